package storetest

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// testTransfers checks adding a device by transfer (DESIGN.md, "The user's
// device set"): the add_device request that names the device, the bundle
// stored with the device's move to pending and its add evidence, handed
// out once, refused past its expiry and deleted by DeleteExpiredTransfers.
func testTransfers(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	u := newUser(t, newID(t, ids.Client))
	want(t, s.CreateUser(ctx, u), nil, "CreateUser")
	d := newDevice(t, u.ID, t0)
	d.State = store.DeviceAwaitingTransfer
	want(t, s.CreateDevice(ctx, d), nil, "CreateDevice awaiting transfer")

	// The add_device request names the device and no record.
	q := newRequest(t, store.KindAddDevice, u.ID, t0, t0.Add(10*time.Minute))
	q.RecordID, q.BlindedElements, q.Record = "", nil, store.RequestRecord{}
	bad := *q
	want(t, s.CreateRequest(ctx, &bad), store.ErrInvalid, "CreateRequest add_device without a device id")
	bad.DeviceID, bad.RecordID = d.ID, newRecordID(t, t0)
	want(t, s.CreateRequest(ctx, &bad), store.ErrInvalid, "CreateRequest add_device with a record id")
	bad = *newRequest(t, store.KindCreate, u.ID, t0, t0.Add(time.Minute))
	bad.DeviceID = d.ID
	want(t, s.CreateRequest(ctx, &bad), store.ErrInvalid, "CreateRequest create with a device id")
	q.DeviceID = d.ID
	want(t, s.CreateRequest(ctx, q), nil, "CreateRequest add_device")
	q.State = store.RequestPending
	same(t, mustGet(t, "GetRequest", s.GetRequest, q.ID), q, "GetRequest add_device")
	pending, err := s.PendingRequests(ctx, u.ID, t0, 10)
	want(t, err, nil, "PendingRequests")
	if len(pending) != 1 || pending[0].DeviceID != d.ID {
		t.Fatalf("PendingRequests: %d, want the add_device request naming its device", len(pending))
	}
	a := newAnswer(t, store.DecisionDeny, t0.Add(time.Minute))
	want(t, s.AnswerRequest(ctx, q.ID, a, t0.Add(time.Minute)), nil, "AnswerRequest add_device")

	expires := t0.Add(15 * time.Minute)
	tr := &store.Transfer{DeviceID: d.ID, UserID: u.ID, RequestID: q.ID, SenderID: newID(t, ids.Device),
		Bundle: random(5000), Statement: random(200), Signature: random(64), ExpiresAt: expires}
	at := t0.Add(2 * time.Minute)
	for name, edit := range map[string]func(*store.Transfer){
		"no bundle":      func(x *store.Transfer) { x.Bundle = nil },
		"huge bundle":    func(x *store.Transfer) { x.Bundle = make([]byte, store.MaxTransferLen+1) },
		"bad device id":  func(x *store.Transfer) { x.DeviceID = "dev" },
		"no statement":   func(x *store.Transfer) { x.Statement = nil },
		"no signature":   func(x *store.Transfer) { x.Signature = nil },
		"no expiry":      func(x *store.Transfer) { x.ExpiresAt = time.Time{} },
		"bad request id": func(x *store.Transfer) { x.RequestID = u.ID },
	} {
		x := *tr
		edit(&x)
		want(t, s.ApproveTransfer(ctx, &x, at), store.ErrInvalid, "ApproveTransfer with %s", name)
	}
	want(t, s.ApproveTransfer(ctx, nil, at), store.ErrInvalid, "ApproveTransfer(nil)")
	unknown := *tr
	unknown.DeviceID = newID(t, ids.Device)
	want(t, s.ApproveTransfer(ctx, &unknown, at), store.ErrNotFound, "ApproveTransfer of an unknown device")
	_, err = s.TakeTransfer(ctx, unknown.DeviceID, at)
	want(t, err, store.ErrNotFound, "TakeTransfer after a refused ApproveTransfer: nothing was stored")
	_, err = s.TakeTransfer(ctx, d.ID, at)
	want(t, err, store.ErrNotFound, "TakeTransfer before ApproveTransfer")

	want(t, s.ApproveTransfer(ctx, tr, at), nil, "ApproveTransfer")
	d.State, d.StateAt = store.DevicePending, at
	d.Evidence.AddStatement, d.Evidence.AddSignature = tr.Statement, tr.Signature
	same(t, mustGet(t, "GetDevice", s.GetDevice, d.ID), d, "GetDevice after ApproveTransfer: pending, with the add evidence")
	again := *tr
	again.Bundle = random(10)
	want(t, s.ApproveTransfer(ctx, &again, at), store.ErrConflict, "ApproveTransfer a second time")

	// ConfirmDevice keeps what it is given, the add evidence with the rest.
	ev := newEvidence()
	ev.AddStatement, ev.AddSignature = tr.Statement, tr.Signature
	_, err = s.TakeTransfer(ctx, d.ID, time.Time{})
	want(t, err, store.ErrInvalid, "TakeTransfer without a time")
	got, err := s.TakeTransfer(ctx, d.ID, at)
	want(t, err, nil, "TakeTransfer")
	same(t, got, tr, "TakeTransfer: the stored bundle")
	_, err = s.TakeTransfer(ctx, d.ID, at)
	want(t, err, store.ErrNotFound, "TakeTransfer a second time: handed out once")
	want(t, s.ConfirmDevice(ctx, d.ID, store.DeviceActive, ev, at), nil, "ConfirmDevice of the added device")
	if dev := mustGet(t, "GetDevice", s.GetDevice, d.ID); !bytes.Equal(dev.Evidence.AddStatement, tr.Statement) {
		t.Fatal("ConfirmDevice lost the add evidence")
	}

	// Deny: awaiting_transfer -> cancelled, and nothing can be approved then.
	denied := newDevice(t, u.ID, t0.Add(time.Second))
	denied.State = store.DeviceAwaitingTransfer
	want(t, s.CreateDevice(ctx, denied), nil, "CreateDevice awaiting transfer")
	want(t, s.SetDeviceState(ctx, denied.ID, store.DeviceAwaitingTransfer, store.DeviceCancelled, at), nil, "SetDeviceState awaiting_transfer -> cancelled")
	dt := *tr
	dt.DeviceID = denied.ID
	want(t, s.ApproveTransfer(ctx, &dt, at), store.ErrConflict, "ApproveTransfer of a cancelled device")
	_, err = s.TakeTransfer(ctx, denied.ID, at)
	want(t, err, store.ErrNotFound, "TakeTransfer of a cancelled device: the refused approval stored nothing")

	// Expiry: refused past ExpiresAt and left, then deleted by the sweep.
	late := newDevice(t, u.ID, t0.Add(2*time.Second))
	late.State = store.DeviceAwaitingTransfer
	want(t, s.CreateDevice(ctx, late), nil, "CreateDevice awaiting transfer")
	lt := *tr
	lt.DeviceID = late.ID
	want(t, s.ApproveTransfer(ctx, &lt, at), nil, "ApproveTransfer")
	_, err = s.TakeTransfer(ctx, late.ID, expires)
	want(t, err, store.ErrExpired, "TakeTransfer at ExpiresAt")
	_, err = s.DeleteExpiredTransfers(ctx, t0, 0)
	want(t, err, store.ErrInvalid, "DeleteExpiredTransfers with limit 0")
	n, err := s.DeleteExpiredTransfers(ctx, expires.Add(-time.Second), 10)
	want(t, err, nil, "DeleteExpiredTransfers before the expiry")
	if n != 0 {
		t.Fatalf("DeleteExpiredTransfers before the expiry deleted %d", n)
	}
	n, err = s.DeleteExpiredTransfers(ctx, expires, 10)
	want(t, err, nil, "DeleteExpiredTransfers")
	if n != 1 {
		t.Fatalf("DeleteExpiredTransfers deleted %d, want 1", n)
	}
	_, err = s.TakeTransfer(ctx, late.ID, at)
	want(t, err, store.ErrNotFound, "TakeTransfer after DeleteExpiredTransfers, even before the expiry")
}

// raceTakeTransfer: of many callers taking one bundle, exactly one gets it.
func raceTakeTransfer(t *testing.T, s store.Store, racers int) {
	ctx := ctxOf(t)
	u := newUser(t, newID(t, ids.Client))
	want(t, s.CreateUser(ctx, u), nil, "CreateUser")
	d := newDevice(t, u.ID, t0)
	d.State = store.DeviceAwaitingTransfer
	want(t, s.CreateDevice(ctx, d), nil, "CreateDevice")
	tr := &store.Transfer{DeviceID: d.ID, UserID: u.ID, RequestID: newID(t, ids.Request), SenderID: newID(t, ids.Device),
		Bundle: random(100), Statement: random(100), Signature: random(64), ExpiresAt: t0.Add(time.Hour)}
	want(t, s.ApproveTransfer(ctx, tr, t0), nil, "ApproveTransfer")
	var won atomic.Int32
	var wg sync.WaitGroup
	for range racers {
		wg.Go(func() {
			if _, err := s.TakeTransfer(ctx, d.ID, t0); err == nil {
				won.Add(1)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d of %d racers took the bundle, want 1", won.Load(), racers)
	}
}

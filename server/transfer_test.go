package server

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// transferDevice is a device enrolled with transfer:true: its signing key
// only, and the ids and check the 202 gave it.
type transferDevice struct {
	*testDevice
	en api.EnrollAnswer
}

// startTransfer enrolls a new device of d's user for a transfer.
func startTransfer(t *testing.T, e *testEnv, d *testDevice) *transferDevice {
	t.Helper()
	var enr api.Enrollment
	e.do(http.MethodPost, "/v1/users/"+d.userID+"/enrollment", e.admin, nil).want(t, http.StatusCreated).decode(t, &enr)
	nd := newDeviceKeys(t, e)
	var en api.EnrollAnswer
	e.do(http.MethodPost, "/v1/device/enroll", "", map[string]any{
		"enrollment_code": enr.EnrollmentCode, "device_name": "second phone", "signing_public_key": nd.signPub(), "transfer": true,
	}).want(t, http.StatusAccepted).decode(t, &en)
	if en.State != api.DeviceAwaitingTransfer || en.UserID != d.userID || len(en.BlindedElements) != 1 {
		t.Fatalf("transfer enrollment answer %+v", en)
	}
	nd.id, nd.userID = en.DeviceID, en.UserID
	return &transferDevice{testDevice: nd, en: en}
}

// addRequest is d's pending add_device request for nd.
func addRequest(t *testing.T, d *testDevice, nd *transferDevice) api.DeviceRequest {
	t.Helper()
	var list api.DeviceRequestList
	d.call(t, http.MethodGet, api.PendingRequestsTarget, nil).want(t, http.StatusOK).decode(t, &list)
	for _, q := range list.Requests {
		if q.Kind == api.KindAddDevice && q.NewDevice != nil && q.NewDevice.DeviceID == nd.id {
			if !bytes.Equal(q.NewDevice.SigningPublicKey, nd.signPub()) || q.NewDevice.Name != "second phone" || q.DeviceKeyID != d.keyID() {
				t.Fatalf("add_device request %+v", q)
			}
			return q
		}
	}
	t.Fatalf("no add_device request for %s", nd.id)
	return api.DeviceRequest{}
}

// addAnswer is d's signed answer to q with bundle (nil for a deny).
func addAnswer(t *testing.T, d *testDevice, q api.DeviceRequest, decision string, transferPub, bundle []byte) api.DeviceResponse {
	t.Helper()
	hash := sha256.Sum256(transferPub)
	st := threshold.AddDeviceStatement{
		RequestID: q.RequestID, UserID: q.UserID, NewDeviceID: q.NewDevice.DeviceID, SigningPublicKey: q.NewDevice.SigningPublicKey,
		TransferKeyHash: hash[:], SenderDeviceID: d.id, DeviceKeyID: q.DeviceKeyID, Decision: decision, ExpiresAt: q.ExpiresAt,
	}
	stmt, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return api.DeviceResponse{Decision: decision, Signature: threshold.Sign(d.sk, stmt), TransferKeyHash: hash[:], TransferBundle: bundle}
}

// TestTransferServer: the server's half of a transfer. The add_device
// answer is checked (signature over the statement the server rebuilds,
// bundle shape), the bundle is handed out once to the new device's own
// signed call and deleted, the confirmation activates the device with its
// evidence, and an unfetched bundle is deleted by the sweeper at its
// expiry.
func TestTransferServer(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	nd := startTransfer(t, e, d)

	// Awaiting: the new device may ask for the bundle, nothing else.
	nd.call(t, http.MethodGet, api.PathDeviceTransfer, nil).wantError(t, http.StatusConflict, api.ErrTransferPending.Code)
	nd.call(t, http.MethodGet, api.PendingRequestsTarget, nil).wantError(t, http.StatusUnauthorized, "unauthenticated")
	e.do(http.MethodPost, "/v1/device/enroll/confirm", "", map[string]any{
		"device_id": nd.id, "evaluated_elements": [][]byte{}, "proof": []byte{1}, "signature": []byte{1},
	}).wantError(t, http.StatusUnauthorized, "unauthenticated")

	q := addRequest(t, d, nd)
	pub, bundle := make([]byte, 32), make([]byte, 4096)
	rand.Read(pub)
	rand.Read(bundle)
	good := addAnswer(t, d, q, threshold.DecisionApprove, pub, bundle)
	target := api.DeviceResponsePath(q.RequestID)
	for name, edit := range map[string]func(a *api.DeviceResponse){
		"no bundle":          func(a *api.DeviceResponse) { a.TransferBundle = nil },
		"short hash":         func(a *api.DeviceResponse) { a.TransferKeyHash = a.TransferKeyHash[:31] },
		"another hash":       func(a *api.DeviceResponse) { a.TransferKeyHash = make([]byte, 32) },
		"with a proof":       func(a *api.DeviceResponse) { a.Proof = []byte{1} },
		"signature of other": func(a *api.DeviceResponse) { a.Signature = threshold.Sign(nd.sk, []byte("x")) },
	} {
		a := good
		edit(&a)
		if r := d.call(t, http.MethodPost, target, a); r.status == http.StatusOK {
			t.Errorf("add_device answer with %s accepted", name)
		}
	}
	d.call(t, http.MethodPost, target, good).want(t, http.StatusOK)
	d.call(t, http.MethodPost, target, good).wantError(t, http.StatusConflict, "conflict")

	var tr api.Transfer
	nd.call(t, http.MethodGet, api.PathDeviceTransfer, nil).want(t, http.StatusOK).decode(t, &tr)
	if !bytes.Equal(tr.Bundle, bundle) || tr.SenderDeviceID != d.id || tr.RequestID != q.RequestID ||
		!bytes.Equal(tr.Signature, good.Signature) || threshold.Verify(d.signPub(), tr.Statement, tr.Signature) != nil {
		t.Fatalf("transfer %+v", tr)
	}
	nd.call(t, http.MethodGet, api.PathDeviceTransfer, nil).wantError(t, http.StatusGone, "gone")

	// The new device confirms with kD (which the bundle carried) and is
	// active, with the add_device statement as evidence.
	nd.kD = d.kD
	var st api.DeviceState
	e.do(http.MethodPost, "/v1/device/enroll/confirm", "", nd.confirmBody(t, wireEnroll{DeviceID: nd.id, UserID: nd.userID,
		BlindedElements: nd.en.BlindedElements})).want(t, http.StatusOK).decode(t, &st)
	if st.State != api.DeviceActive {
		t.Fatalf("confirmed transfer: %+v", st)
	}
	dev, err := e.st.GetDevice(t.Context(), nd.id)
	if err != nil || !bytes.Equal(dev.Evidence.AddStatement, tr.Statement) || !bytes.Equal(dev.Evidence.AddSignature, tr.Signature) {
		t.Fatalf("added device's evidence: %+v, %v", dev, err)
	}
	nd.call(t, http.MethodGet, api.PathDeviceTransfer, nil).wantError(t, http.StatusUnauthorized, "unauthenticated")
	nd.call(t, http.MethodGet, api.PendingRequestsTarget, nil).want(t, http.StatusOK)

	// A second transfer, approved but never fetched: the sweeper deletes
	// the bundle once it has expired.
	late := startTransfer(t, e, d)
	lq := addRequest(t, d, late)
	d.call(t, http.MethodPost, api.DeviceResponsePath(lq.RequestID), addAnswer(t, d, lq, threshold.DecisionApprove, pub, bundle)).want(t, http.StatusOK)
	e.clock.Advance(EnrollmentTTL + time.Second)
	if _, err := e.st.TakeTransfer(t.Context(), late.id, e.clock.Now()); !errors.Is(err, store.ErrExpired) {
		t.Fatalf("expired bundle before the sweep: %v, want ErrExpired (kept, refused)", err)
	}
	if err := e.srv.sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Deleted: not even a read at a time before its expiry finds it.
	if _, err := e.st.TakeTransfer(t.Context(), late.id, e.clock.Now().Add(-2*EnrollmentTTL)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired bundle after the sweep: %v, want ErrNotFound", err)
	}

	// An add_device request nobody answers expires, and its device with it.
	never := startTransfer(t, e, d)
	e.clock.Advance(EnrollmentTTL + time.Second)
	if err := e.srv.sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if dev, err := e.st.GetDevice(t.Context(), never.id); err != nil || dev.State != api.DeviceCancelled {
		t.Fatalf("device of an expired add_device request: %+v, %v", dev, err)
	}
	never.call(t, http.MethodGet, api.PathDeviceTransfer, nil).wantError(t, http.StatusForbidden, api.ErrTransferDenied.Code)
}

// TestTransferDeniedServer: a denied add_device cancels the device; it can
// never fetch a bundle or confirm.
func TestTransferDeniedServer(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	nd := startTransfer(t, e, d)
	q := addRequest(t, d, nd)
	deny := addAnswer(t, d, q, threshold.DecisionDeny, make([]byte, 32), nil)
	withBundle := deny
	withBundle.TransferBundle = []byte{1}
	d.call(t, http.MethodPost, api.DeviceResponsePath(q.RequestID), withBundle).wantError(t, http.StatusBadRequest, "bad_request")
	d.call(t, http.MethodPost, api.DeviceResponsePath(q.RequestID), deny).want(t, http.StatusOK)
	nd.call(t, http.MethodGet, api.PathDeviceTransfer, nil).wantError(t, http.StatusForbidden, api.ErrTransferDenied.Code)
	nd.kD = d.kD
	e.do(http.MethodPost, "/v1/device/enroll/confirm", "", nd.confirmBody(t, wireEnroll{DeviceID: nd.id, UserID: nd.userID,
		BlindedElements: nd.en.BlindedElements})).wantError(t, http.StatusForbidden, api.ErrTransferDenied.Code)

	// A user with no device cannot enroll for a transfer, and the code is
	// not spent by the refusal.
	u := e.newUser(t)
	body := map[string]any{"enrollment_code": u.EnrollmentCode, "device_name": "x", "signing_public_key": nd.signPub(), "transfer": true}
	e.do(http.MethodPost, "/v1/device/enroll", "", body).wantError(t, http.StatusConflict, "conflict")
	fresh := newDeviceKeys(t, e)
	fresh.enroll(t, u.EnrollmentCode)
	body["oprf_public_key"] = d.kD.Public().Bytes()
	e.do(http.MethodPost, "/v1/device/enroll", "", body).wantError(t, http.StatusBadRequest, "bad_request")
}

func reactivateBody(t *testing.T, by *testDevice, userID, target string, at time.Time) map[string]any {
	t.Helper()
	stmt, err := threshold.ReactivateStatement(userID, target, at)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"at": at, "signature": threshold.Sign(by.sk, stmt)}
}

// TestReactivate: only an active device's signed reactivation statement
// brings a suspended device back, audited.
func TestReactivate(t *testing.T) {
	e := newEnv(t, nil)
	phone := e.userWithDevice(t)
	second := activeSameKey(t, e, phone)

	target := api.DeviceReactivatePath(second.id)
	now := e.clock.Now()
	phone.call(t, http.MethodPost, target, reactivateBody(t, phone, phone.userID, second.id, now)).wantError(t, http.StatusConflict, "conflict")
	e.do(http.MethodDelete, "/v1/users/"+phone.userID+"/devices/"+second.id, e.admin, nil).want(t, http.StatusOK)
	second.call(t, http.MethodGet, api.PendingRequestsTarget, nil).wantError(t, http.StatusUnauthorized, "unauthenticated")

	for name, body := range map[string]map[string]any{
		"a revocation statement": revokeBody(t, phone, phone.userID, second.id, now),
		"another device's name":  reactivateBody(t, phone, phone.userID, phone.id, now),
		"signed by the target":   reactivateBody(t, second, phone.userID, second.id, now),
		"an old time":            reactivateBody(t, phone, phone.userID, second.id, now.Add(-2*MaxClockSkew)),
	} {
		if r := phone.call(t, http.MethodPost, target, body); r.status == http.StatusOK {
			t.Errorf("reactivation with %s accepted", name)
		}
	}
	var st api.DeviceState
	phone.call(t, http.MethodPost, target, reactivateBody(t, phone, phone.userID, second.id, now)).want(t, http.StatusOK).decode(t, &st)
	if st.State != api.DeviceActive {
		t.Fatalf("reactivated: %+v", st)
	}
	second.call(t, http.MethodGet, api.PendingRequestsTarget, nil).want(t, http.StatusOK)
	entries, err := e.st.AuditEntries(t.Context(), phone.userID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if last := entries[len(entries)-1]; last.Event != store.EventDeviceReactivated || last.Actor != phone.id || last.Subject != second.id {
		t.Fatalf("last audit entry %s by %s of %s", last.Event, last.Actor, last.Subject)
	}
}

// TestEndedDeviceLosesItsStreamOnEveryNode: a device streaming from node B
// that node A suspends or revokes loses its stream within a relay turn.
func TestEndedDeviceLosesItsStreamOnEveryNode(t *testing.T) {
	const tick = 20 * time.Millisecond
	a := newEnv(t, func(c *Config) { c.NodeID, c.PushPollInterval = "node-a", tick })
	b := a.peerNode(t, "node-b", nil)
	for _, end := range []string{"suspend", "revoke"} {
		d := a.userWithDevice(t)
		res, err := b.ts.Client().Do(d.on(b).signed(t, http.MethodGet, "/v1/device/events", nil, a.clock.Now(), newNonce(t)))
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: event stream status %d", end, res.StatusCode)
		}
		ended := make(chan error, 1)
		go func() { _, err := io.Copy(io.Discard, res.Body); ended <- err }()
		waitFor(t, func() bool { return len(b.srv.hub.ConnectedDevices(d.userID)) == 1 }, "the stream on node-b")
		endDevice(t, a, d, end)
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s on node-a: the device's event stream on node-b is still open", end)
		}
		res.Body.Close()
	}
}

// TestTransferAnswerRace: two devices of the user answer one add_device
// request at once, one approving, one denying: exactly one wins, and the
// request's state and the new device's agree.
func TestTransferAnswerRace(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	other := activeSameKey(t, e, d)

	pub := make([]byte, 32)
	for trial := range 8 {
		nd := startTransfer(t, e, d)
		q := addRequest(t, d, nd)
		approve := addAnswer(t, d, q, threshold.DecisionApprove, pub, []byte("ciphertext"))
		deny := addAnswer(t, other, q, threshold.DecisionDeny, pub, nil)
		statuses := make(chan int, 2)
		go func() { statuses <- d.call(t, http.MethodPost, api.DeviceResponsePath(q.RequestID), approve).status }()
		go func() { statuses <- other.call(t, http.MethodPost, api.DeviceResponsePath(q.RequestID), deny).status }()
		a, b := <-statuses, <-statuses
		if (a == http.StatusOK) == (b == http.StatusOK) {
			t.Fatalf("trial %d: statuses %d and %d, want exactly one 200", trial, a, b)
		}
		stored, err := e.st.GetRequest(t.Context(), q.RequestID)
		if err != nil {
			t.Fatal(err)
		}
		dev, err := e.st.GetDevice(t.Context(), nd.id)
		if err != nil {
			t.Fatal(err)
		}
		if (stored.State == store.RequestApproved) != (dev.State == store.DevicePending) ||
			(stored.State == store.RequestDenied) != (dev.State == store.DeviceCancelled) {
			t.Fatalf("trial %d: request %s but device %s", trial, stored.State, dev.State)
		}
	}
}

// TestAddDevicePushed: the add_device request reaches the user's open
// event stream as any request does.
func TestAddDevicePushed(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	events := d.events(t)
	waitFor(t, func() bool { return len(e.srv.hub.ConnectedDevices(d.userID)) == 1 }, "the stream")
	nd := startTransfer(t, e, d)
	q := addRequest(t, d, nd)
	if got := nextEvent(t, events, "the add_device request"); got != q.RequestID {
		t.Fatalf("pushed %q, want the add_device request %q", got, q.RequestID)
	}
}

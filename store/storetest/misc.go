package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// malformed are ids no method may accept, whatever kind it expects.
var malformed = []string{
	"", "usr_", "usr_aaaa", "USR_AAAAAAAAAAAAAAAAAAAAAAAAAA", "usr_aaaaaaaaaaaaaaaaaaaaaaaaab", "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa ",
	"../../etc/passwd", "'; DROP TABLE users; --", `{"$ne": null}`, "\x00", "\xff\xfe",
	"0190A0B0-C0D0-7E0F-8A0B-0C0D0E0F1011", "0190a0b0-c0d0-4e0f-8a0b-0c0d0e0f1011", strings.Repeat("a", 100000),
}

func testMalformedIDs(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	type call struct {
		kind string // the id prefix the method expects; "" for a record id
		f    func(id string) error
	}
	calls := map[string]call{
		"GetUser":   {ids.User, func(id string) error { _, err := s.GetUser(ctx, id); return err }},
		"GetDevice": {ids.Device, func(id string) error { _, err := s.GetDevice(ctx, id); return err }},
		"ConfirmDevice": {ids.Device, func(id string) error {
			return s.ConfirmDevice(ctx, id, store.DeviceActive, newEvidence(), t0)
		}},
		"SetDeviceState": {ids.Device, func(id string) error {
			return s.SetDeviceState(ctx, id, store.DeviceActive, store.DeviceRevoked, t0)
		}},
		"ActiveDevices": {ids.User, func(id string) error { _, err := s.ActiveDevices(ctx, id); return err }},
		"UserDevices":   {ids.User, func(id string) error { _, err := s.UserDevices(ctx, id); return err }},
		"PinUserKey":    {ids.User, func(id string) error { return s.PinUserKey(ctx, id, random(32), keyID()) }},
		"CountRecords":  {ids.User, func(id string) error { _, err := s.CountRecords(ctx, id); return err }},
		"GetRecord":     {"", func(id string) error { _, err := s.GetRecord(ctx, id); return err }},
		"StageRecord":   {"", func(id string) error { return s.StageRecord(ctx, id, newStaging(t, newRecordID(t, t0), t0)) }},
		"SealRecord":    {"", func(id string) error { return s.SealRecord(ctx, id, newSeal(t), t0) }},
		"EndRecord":     {"", func(id string) error { return s.EndRecord(ctx, id, store.RecordExpired, t0) }},
		"GetRequest":    {ids.Request, func(id string) error { _, err := s.GetRequest(ctx, id); return err }},
		"AnswerRequest": {ids.Request, func(id string) error {
			return s.AnswerRequest(ctx, id, newAnswer(t, store.DecisionDeny, t0), t0)
		}},
		"ExpireRequest":        {ids.Request, func(id string) error { return s.ExpireRequest(ctx, id, t0) }},
		"MarkProcessed":        {ids.Request, func(id string) error { return s.MarkProcessed(ctx, id) }},
		"PendingRequests":      {ids.User, func(id string) error { _, err := s.PendingRequests(ctx, id, t0, 1); return err }},
		"CountPendingRequests": {ids.User, func(id string) error { _, err := s.CountPendingRequests(ctx, id, t0); return err }},
		"GetSession":           {ids.Session, func(id string) error { _, err := s.GetSession(ctx, id); return err }},
		"OpenSession":          {ids.Session, func(id string) error { return s.OpenSession(ctx, id, newOpening(t, t0, 1), t0) }},
		"EndSession":           {ids.Session, func(id string) error { return s.EndSession(ctx, id, store.SessionDenied, t0) }},
		"UseDownload":          {ids.Session, func(id string) error { _, err := s.UseDownload(ctx, id, t0); return err }},
		"RememberNonce":        {ids.Device, func(id string) error { return s.RememberNonce(ctx, id, "n", t0.Add(time.Minute), t0) }},
		"AuditEntries":         {ids.User, func(id string) error { _, err := s.AuditEntries(ctx, id, 0, 1); return err }},
	}
	for name, c := range calls {
		// Well-formed ids of another kind are malformed here too.
		bad := append([]string(nil), malformed...)
		for _, kind := range []string{ids.User, ids.Device, ids.Request, ids.Session, ids.Client, ""} {
			switch {
			case kind == c.kind:
			case kind == "":
				bad = append(bad, newRecordID(t, t0))
			default:
				bad = append(bad, newID(t, kind))
			}
		}
		for _, id := range bad {
			err := c.f(id)
			want(t, err, store.ErrInvalid, "%s(%.40q)", name, id)
			if len(err.Error()) > 400 {
				t.Fatalf("%s: error of %d bytes repeats the input: %.100s...", name, len(err.Error()), err)
			}
		}
	}
}

// testOversize checks every limit at its bound and one past it.
func testOversize(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	text := strings.Repeat("t", store.MaxTextLen)
	u := newUser(t, newID(t, ids.Client))
	u.DisplayName, u.ExternalID, u.ShareWrapped = text, text, random(store.MaxBytesLen)
	want(t, s.CreateUser(ctx, u), nil, "CreateUser with fields at their limits")
	got, err := s.GetUser(ctx, u.ID)
	want(t, err, nil, "GetUser")
	same(t, got, u, "user with fields at their limits")
	over := newUser(t, newID(t, ids.Client))
	over.DisplayName = text + "t"
	err = s.CreateUser(ctx, over)
	want(t, err, store.ErrInvalid, "CreateUser with a display name over the limit")
	if !strings.Contains(err.Error(), "display name") {
		t.Fatalf("error does not name the field: %v", err)
	}
	over = newUser(t, newID(t, ids.Client))
	over.ShareWrapped = random(store.MaxBytesLen + 1)
	want(t, s.CreateUser(ctx, over), store.ErrInvalid, "CreateUser with a wrapped share over the limit")

	r := newRecord(t, u.ID, u.ClientID, t0)
	r.Title, r.ContentType, r.Purpose = text, text, text
	want(t, s.CreateRecord(ctx, r), nil, "CreateRecord with fields at their limits")
	want(t, s.StageRecord(ctx, r.ID, newStaging(t, r.ID, t0.Add(time.Hour))), nil, "StageRecord")
	seal := newSeal(t)
	seal.Approval.Statement, seal.Approval.Signature, seal.WrappedDEK = random(store.MaxBytesLen), random(store.MaxBytesLen), random(store.MaxBytesLen)
	big := seal
	big.Approval.Statement = random(store.MaxBytesLen + 1)
	want(t, s.SealRecord(ctx, r.ID, big, t0), store.ErrInvalid, "SealRecord with a statement over the limit")
	want(t, s.SealRecord(ctx, r.ID, seal, t0), nil, "SealRecord with fields at their limits")
	same(t, getRecord(t, s, r.ID).Approval, seal.Approval, "approval at the limits")

	q := newRequest(t, store.KindCreate, u.ID, t0, t0.Add(time.Hour))
	q.BlindedElements = randomList(store.MaxListLen, store.MaxBytesLen/store.MaxListLen)
	wantQ := createRequest(t, s, q)
	same(t, getRequest(t, s, q.ID), wantQ, "request with MaxListLen blinded elements")
	q = newRequest(t, store.KindCreate, u.ID, t0, t0.Add(time.Hour))
	q.BlindedElements = randomList(2, store.MaxBytesLen/2+1)
	want(t, s.CreateRequest(ctx, q), store.ErrInvalid, "CreateRequest with blinded elements over the byte limit")

	e := newAuditEntry(u.ID, store.EventApproved, t0)
	e.Details = []byte(`"` + strings.Repeat("d", store.MaxDetailsLen-2) + `"`)
	_, err = s.AppendAudit(ctx, e)
	want(t, err, nil, "AppendAudit with details at the limit")
	e.Details = []byte(`"` + strings.Repeat("d", store.MaxDetailsLen-1) + `"`)
	_, err = s.AppendAudit(ctx, e)
	want(t, err, store.ErrInvalid, "AppendAudit with details over the limit")
}

// testContext checks that a cancelled context fails a call and changes
// nothing.
func testContext(t *testing.T, s store.Store) {
	want(t, s.Ping(ctxOf(t)), nil, "Ping")
	ctx, cancel := context.WithCancel(ctxOf(t))
	cancel()
	u := newUser(t, newID(t, ids.Client))
	if err := s.CreateUser(ctx, u); err == nil {
		t.Fatal("CreateUser with a cancelled context succeeded")
	} else if !errors.Is(err, context.Canceled) && !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("CreateUser with a cancelled context: err = %v, want context.Canceled or ErrUnavailable", err)
	}
	_, err := s.GetUser(ctxOf(t), u.ID)
	want(t, err, store.ErrNotFound, "GetUser of a user created with a cancelled context")
	if _, err := s.GetUser(ctx, u.ID); err == nil {
		t.Fatal("GetUser with a cancelled context succeeded")
	}
}

// testClosed checks that a closed store fails with ErrUnavailable.
func testClosed(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	u := newUser(t, newID(t, ids.Client))
	want(t, s.CreateUser(ctx, u), nil, "CreateUser")
	want(t, s.Close(), nil, "Close")
	_, err := s.GetUser(ctx, u.ID)
	want(t, err, store.ErrUnavailable, "GetUser after Close")
	want(t, s.CreateUser(ctx, newUser(t, newID(t, ids.Client))), store.ErrUnavailable, "CreateUser after Close")
	want(t, s.Ping(ctx), store.ErrUnavailable, "Ping after Close")
}

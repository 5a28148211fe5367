package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

func newAuditEntry(user, event string, at time.Time) *store.AuditEntry {
	return &store.AuditEntry{UserID: user, Event: event, Actor: "server", Subject: "req_x", Details: []byte(`{"k":"v"}`), At: at}
}

func auditChain(t *testing.T, s store.Store, user string) []*store.AuditEntry {
	t.Helper()
	entries, err := s.AuditEntries(ctxOf(t), user, 0, store.MaxLimit)
	want(t, err, nil, "AuditEntries")
	return entries
}

func testAudit(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	a, b := newID(t, ids.User), newID(t, ids.User)
	events := []string{store.EventUserCreated, store.EventDeviceEnrolled, store.EventRecordCreated, store.EventApprovalRequested, store.EventApproved}
	var stored []*store.AuditEntry
	for i, ev := range events {
		// Sub-second times in another zone: stored in whole seconds UTC.
		at := t0.Add(time.Duration(i)*time.Minute + 700*time.Millisecond).In(time.FixedZone("x", -7200))
		e := newAuditEntry(a, ev, at)
		e.Seq, e.PrevHash, e.Hash = 99, []byte("ignored"), []byte("ignored")
		orig := *e
		orig.Details = bytes.Clone(e.Details)
		got, err := s.AppendAudit(ctx, e)
		want(t, err, nil, "AppendAudit %d", i)
		same(t, e, &orig, "AppendAudit changed its argument")
		if got.Seq != int64(i+1) || !got.At.Equal(at.Truncate(time.Second)) || got.At.Location() != time.UTC {
			t.Fatalf("AppendAudit %d: seq %d at %v", i, got.Seq, got.At)
		}
		stored = append(stored, got)
		// Interleave another user's chain.
		_, err = s.AppendAudit(ctx, newAuditEntry(b, store.EventRecordSealed, t0))
		want(t, err, nil, "AppendAudit of user b")
	}
	chain := auditChain(t, s, a)
	same(t, chain, stored, "AuditEntries returns the entries AppendAudit returned")
	if err := store.VerifyChain(chain); err != nil {
		t.Fatalf("chain of user a: %v", err)
	}
	if !bytes.Equal(chain[0].PrevHash, make([]byte, 32)) {
		t.Fatalf("first entry's previous hash %x", chain[0].PrevHash)
	}
	chainB := auditChain(t, s, b)
	if len(chainB) != len(events) {
		t.Fatalf("chain of user b has %d entries", len(chainB))
	}
	if err := store.VerifyChain(chainB); err != nil {
		t.Fatalf("chain of user b: %v", err)
	}

	page, err := s.AuditEntries(ctx, a, 2, 2)
	want(t, err, nil, "AuditEntries after 2")
	same(t, page, stored[2:4], "AuditEntries after 2, limit 2")
	page, err = s.AuditEntries(ctx, a, 5, 10)
	want(t, err, nil, "AuditEntries after the last")
	same(t, page, []*store.AuditEntry{}, "AuditEntries after the last")
	page, err = s.AuditEntries(ctx, newID(t, ids.User), 0, 10)
	want(t, err, nil, "AuditEntries of a user without entries")
	same(t, page, []*store.AuditEntry{}, "AuditEntries of a user without entries")

	noDetails := newAuditEntry(a, store.EventContentDelivered, t0)
	noDetails.Details, noDetails.Subject = nil, ""
	got, err := s.AppendAudit(ctx, noDetails)
	want(t, err, nil, "AppendAudit without details")
	same(t, auditChain(t, s, a)[5], got, "entry without details")

	for name, e := range map[string]*store.AuditEntry{
		"event":   newAuditEntry(a, "record_deleted", t0),
		"user":    newAuditEntry("usr_x", store.EventUserCreated, t0),
		"actor":   {UserID: a, Event: store.EventUserCreated, At: t0},
		"time":    newAuditEntry(a, store.EventUserCreated, time.Time{}),
		"details": {UserID: a, Event: store.EventUserCreated, Actor: "server", At: t0, Details: []byte("{not json")},
		"nil":     nil,
	} {
		_, err := s.AppendAudit(ctx, e)
		want(t, err, store.ErrInvalid, "AppendAudit with a bad %s", name)
	}
	if n := len(auditChain(t, s, a)); n != 6 {
		t.Fatalf("chain has %d entries after refused appends, want 6", n)
	}
	_, err = s.AuditEntries(ctx, a, -1, 1)
	want(t, err, store.ErrInvalid, "AuditEntries after -1")
	_, err = s.AuditEntries(ctx, a, 0, 0)
	want(t, err, store.ErrInvalid, "AuditEntries limit 0")
	_, err = s.AuditEntries(ctx, "usr", 0, 1)
	want(t, err, store.ErrInvalid, "AuditEntries of a malformed user id")
}

func testNonces(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	dev, other := newID(t, ids.Device), newID(t, ids.Device)
	expires := t0.Add(120 * time.Second)
	want(t, s.RememberNonce(ctx, dev, "bm9uY2Ux", expires, t0), nil, "RememberNonce")
	want(t, s.RememberNonce(ctx, dev, "bm9uY2Ux", expires, t0), store.ErrConflict, "RememberNonce a second time")
	want(t, s.RememberNonce(ctx, dev, "bm9uY2Ux", expires.Add(time.Hour), expires.Add(-time.Second)), store.ErrConflict, "RememberNonce just before the expiry")
	want(t, s.RememberNonce(ctx, other, "bm9uY2Ux", expires, t0), nil, "RememberNonce of another device")
	want(t, s.RememberNonce(ctx, dev, "bm9uY2Uy", expires, t0), nil, "RememberNonce of another nonce")
	// Once expired the nonce may be seen again, and is remembered anew.
	later := expires.Add(120 * time.Second)
	want(t, s.RememberNonce(ctx, dev, "bm9uY2Ux", later, expires), nil, "RememberNonce at the expiry")
	want(t, s.RememberNonce(ctx, dev, "bm9uY2Ux", later, expires.Add(time.Second)), store.ErrConflict, "RememberNonce after renewal")
	// Many distinct nonces (an implementation may purge expired ones as it
	// goes): each is refused a second time while it lives.
	for i := range 100 {
		n := string(rune('a'+i%26)) + newID(t, "n")
		at := t0.Add(time.Duration(i) * time.Second)
		want(t, s.RememberNonce(ctx, dev, n, at.Add(time.Minute), at), nil, "RememberNonce %d", i)
		want(t, s.RememberNonce(ctx, dev, n, at.Add(time.Minute), at), store.ErrConflict, "RememberNonce %d again", i)
	}
	for name, f := range map[string]error{
		"device":    s.RememberNonce(ctx, "dev_", "n", expires, t0),
		"nonce":     s.RememberNonce(ctx, dev, "", expires, t0),
		"expiry":    s.RememberNonce(ctx, dev, "n", time.Time{}, t0),
		"time":      s.RememberNonce(ctx, dev, "n", expires, time.Time{}),
		"long":      s.RememberNonce(ctx, dev, string(make([]byte, store.MaxTextLen+1)), expires, t0),
		"bad UTF-8": s.RememberNonce(ctx, dev, "\xfe", expires, t0),
	} {
		want(t, f, store.ErrInvalid, "RememberNonce with a bad %s", name)
	}
}

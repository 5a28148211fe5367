package storetest

import (
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// getRecord reads a record that must exist.
func getRecord(t *testing.T, s store.Store, id string) *store.Record {
	t.Helper()
	return mustGet(t, "GetRecord", s.GetRecord, id)
}

// stagedRecord creates a record and stages it, expiring at expires.
func stagedRecord(t *testing.T, s store.Store, user string, expires time.Time) (*store.Record, store.Staging) {
	t.Helper()
	r := newRecord(t, user, newID(t, ids.Client), t0)
	want(t, s.CreateRecord(ctxOf(t), r), nil, "CreateRecord")
	st := newStaging(t, r.ID, expires)
	want(t, s.StageRecord(ctxOf(t), r.ID, st), nil, "StageRecord")
	return r, st
}

func testRecords(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	user := newID(t, ids.User)
	r := newRecord(t, user, newID(t, ids.Client), t0)
	want(t, s.CreateRecord(ctx, r), nil, "CreateRecord")
	wantR := *r
	wantR.State = store.RecordAwaitingUpload
	same(t, getRecord(t, s, r.ID), &wantR, "GetRecord after CreateRecord")
	want(t, s.CreateRecord(ctx, r), store.ErrConflict, "CreateRecord with an existing id")

	expires := t0.Add(5 * time.Minute)
	seal := newSeal(t)
	want(t, s.SealRecord(ctx, r.ID, seal, t0), store.ErrConflict, "SealRecord of a record awaiting upload")
	st := newStaging(t, r.ID, expires)
	want(t, s.StageRecord(ctx, r.ID, st), nil, "StageRecord")
	wantR.State = store.RecordPendingApproval
	wantR.Size, wantR.ContentSHA256, wantR.BlobName, wantR.Input = st.Size, st.ContentSHA256, st.BlobName, st.Input
	wantR.DeviceKeyID, wantR.RequestID, wantR.ExpiresAt = st.DeviceKeyID, st.RequestID, st.ExpiresAt
	same(t, getRecord(t, s, r.ID), &wantR, "GetRecord after StageRecord")
	want(t, s.StageRecord(ctx, r.ID, newStaging(t, r.ID, expires)), store.ErrConflict, "StageRecord a second time")
	same(t, getRecord(t, s, r.ID), &wantR, "GetRecord after a refused StageRecord")

	// Expired: refused, and nothing written.
	want(t, s.SealRecord(ctx, r.ID, seal, expires), store.ErrExpired, "SealRecord at the expiry")
	want(t, s.SealRecord(ctx, r.ID, seal, expires.Add(time.Hour)), store.ErrExpired, "SealRecord after the expiry")
	same(t, getRecord(t, s, r.ID), &wantR, "GetRecord after a refused SealRecord")

	want(t, s.SealRecord(ctx, r.ID, seal, expires.Add(-time.Second)), nil, "SealRecord just before the expiry")
	wantR.State, wantR.WrappedDEK, wantR.Approval, wantR.SealedAt = store.RecordSealed, seal.WrappedDEK, seal.Approval, seal.SealedAt
	same(t, getRecord(t, s, r.ID), &wantR, "GetRecord after SealRecord")
	want(t, s.SealRecord(ctx, r.ID, newSeal(t), t0), store.ErrConflict, "SealRecord a second time")
	want(t, s.EndRecord(ctx, r.ID, store.RecordRejected, t0), store.ErrConflict, "EndRecord of a sealed record")
	want(t, s.EndRecord(ctx, r.ID, store.RecordExpired, t0), store.ErrConflict, "EndRecord of a sealed record")
	want(t, s.StageRecord(ctx, r.ID, newStaging(t, r.ID, expires)), store.ErrConflict, "StageRecord of a sealed record")
	same(t, getRecord(t, s, r.ID), &wantR, "GetRecord after refused transitions")

	// Ends: from awaiting upload and from pending approval, once.
	a := newRecord(t, user, newID(t, ids.Client), t0)
	want(t, s.CreateRecord(ctx, a), nil, "CreateRecord")
	want(t, s.EndRecord(ctx, a.ID, store.RecordExpired, t0), nil, "EndRecord expired from awaiting_upload")
	if got := getRecord(t, s, a.ID).State; got != store.RecordExpired {
		t.Fatalf("state after EndRecord: %s", got)
	}
	want(t, s.EndRecord(ctx, a.ID, store.RecordRejected, t0), store.ErrConflict, "EndRecord of an expired record")
	want(t, s.StageRecord(ctx, a.ID, newStaging(t, a.ID, expires)), store.ErrConflict, "StageRecord of an expired record")
	p, _ := stagedRecord(t, s, user, expires)
	want(t, s.EndRecord(ctx, p.ID, store.RecordSealed, t0), store.ErrInvalid, "EndRecord to sealed")
	want(t, s.EndRecord(ctx, p.ID, store.RecordPendingApproval, t0), store.ErrInvalid, "EndRecord to pending_approval")
	want(t, s.EndRecord(ctx, p.ID, store.RecordRejected, t0), nil, "EndRecord rejected from pending_approval")
	want(t, s.SealRecord(ctx, p.ID, newSeal(t), t0), store.ErrConflict, "SealRecord of a rejected record")
	if got := getRecord(t, s, p.ID); got.State != store.RecordRejected || got.WrappedDEK != nil {
		t.Fatalf("rejected record: state %s, wrapped DEK %x", got.State, got.WrappedDEK)
	}

	unknown := newRecordID(t, t0)
	_, err := s.GetRecord(ctx, unknown)
	want(t, err, store.ErrNotFound, "GetRecord of an unknown id")
	want(t, s.StageRecord(ctx, unknown, newStaging(t, unknown, expires)), store.ErrNotFound, "StageRecord of an unknown id")
	want(t, s.SealRecord(ctx, unknown, newSeal(t), t0), store.ErrNotFound, "SealRecord of an unknown id")
	want(t, s.EndRecord(ctx, unknown, store.RecordExpired, t0), store.ErrNotFound, "EndRecord of an unknown id")

	n, err := s.CountRecords(ctx, user)
	want(t, err, nil, "CountRecords")
	if n != 3 {
		t.Fatalf("CountRecords = %d, want 3", n)
	}
	n, err = s.CountRecords(ctx, newID(t, ids.User))
	want(t, err, nil, "CountRecords of a user without records")
	if n != 0 {
		t.Fatalf("CountRecords of a user without records = %d", n)
	}

	// Bad creation, staging and sealing arguments change nothing.
	for name, edit := range map[string]func(r *store.Record){
		"state":       func(r *store.Record) { r.State = store.RecordSealed },
		"staged size": func(r *store.Record) { r.Size = 1 },
		"wrapped DEK": func(r *store.Record) { r.WrappedDEK = []byte{1} },
		"approval":    func(r *store.Record) { r.Approval.DeviceID = newID(t, ids.Device) },
		"expiry":      func(r *store.Record) { r.ExpiresAt = t0 },
		"user id":     func(r *store.Record) { r.UserID = newID(t, ids.Client) },
		"client id":   func(r *store.Record) { r.ClientID = "" },
		"created at":  func(r *store.Record) { r.CreatedAt = time.Time{} },
		"title":       func(r *store.Record) { r.Title = "a\xffb" },
	} {
		bad := newRecord(t, user, newID(t, ids.Client), t0)
		edit(bad)
		want(t, s.CreateRecord(ctx, bad), store.ErrInvalid, "CreateRecord with a bad %s", name)
		_, err := s.GetRecord(ctx, bad.ID)
		want(t, err, store.ErrNotFound, "GetRecord of a record refused for its %s", name)
	}
	want(t, s.CreateRecord(ctx, nil), store.ErrInvalid, "CreateRecord(nil)")
	fresh := newRecord(t, user, newID(t, ids.Client), t0)
	want(t, s.CreateRecord(ctx, fresh), nil, "CreateRecord")
	for name, edit := range map[string]func(st *store.Staging){
		"size":       func(st *store.Staging) { st.Size = -1 },
		"digest":     func(st *store.Staging) { st.ContentSHA256 = st.ContentSHA256[:31] },
		"blob name":  func(st *store.Staging) { st.BlobName = "../" + fresh.ID },
		"input":      func(st *store.Staging) { st.Input = nil },
		"key id":     func(st *store.Staging) { st.DeviceKeyID = "x" },
		"request id": func(st *store.Staging) { st.RequestID = newID(t, ids.Session) },
		"expiry":     func(st *store.Staging) { st.ExpiresAt = time.Time{} },
	} {
		st := newStaging(t, fresh.ID, expires)
		edit(&st)
		want(t, s.StageRecord(ctx, fresh.ID, st), store.ErrInvalid, "StageRecord with a bad %s", name)
	}
	if got := getRecord(t, s, fresh.ID).State; got != store.RecordAwaitingUpload {
		t.Fatalf("state after refused StageRecord calls: %s", got)
	}
	q, _ := stagedRecord(t, s, user, expires)
	for name, edit := range map[string]func(x *store.Seal){
		"wrapped DEK": func(x *store.Seal) { x.WrappedDEK = nil },
		"device id":   func(x *store.Seal) { x.Approval.DeviceID = newID(t, ids.User) },
		"statement":   func(x *store.Seal) { x.Approval.Statement = nil },
		"signature":   func(x *store.Seal) { x.Approval.Signature = make([]byte, store.MaxBytesLen+1) },
		"sealed at":   func(x *store.Seal) { x.SealedAt = time.Time{} },
	} {
		x := newSeal(t)
		edit(&x)
		want(t, s.SealRecord(ctx, q.ID, x, t0), store.ErrInvalid, "SealRecord with a bad %s", name)
	}
	want(t, s.SealRecord(ctx, q.ID, newSeal(t), time.Time{}), store.ErrInvalid, "SealRecord without a time")
	if got := getRecord(t, s, q.ID).State; got != store.RecordPendingApproval {
		t.Fatalf("state after refused SealRecord calls: %s", got)
	}
}

// testRecordTimes checks that times round-trip as instants whatever the
// caller's location, and come back in UTC.
func testRecordTimes(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	r := newRecord(t, newID(t, ids.User), newID(t, ids.Client), t0.In(zone))
	want(t, s.CreateRecord(ctx, r), nil, "CreateRecord")
	got := getRecord(t, s, r.ID)
	if !got.CreatedAt.Equal(t0) || got.CreatedAt.Location() != time.UTC {
		t.Fatalf("CreatedAt = %v, want %v in UTC", got.CreatedAt, t0)
	}
	for _, at := range []time.Time{store.MinTime, store.MaxTime.Add(-time.Second)} {
		x := newRecord(t, newID(t, ids.User), newID(t, ids.Client), at)
		want(t, s.CreateRecord(ctx, x), nil, "CreateRecord at %v", at)
		same(t, getRecord(t, s, x.ID).CreatedAt, at, "CreatedAt at the bounds")
	}
}

func testRecordsToExpire(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	user := newID(t, ids.User)
	now := t0.Add(time.Hour)
	window := 10 * time.Minute
	deadline := now.Add(-window)
	var expected []string // in deadline order

	// Interleaved deadlines: pending expiring at now-50m, now-30m, now-10m,
	// now; awaiting created at deadline-40m, deadline-20m (deadlines now-40m,
	// now-20m).
	pend := func(ago time.Duration) string {
		r, _ := stagedRecord(t, s, user, now.Add(-ago))
		return r.ID
	}
	await := func(created time.Time) string {
		r := newRecord(t, user, newID(t, ids.Client), created)
		want(t, s.CreateRecord(ctx, r), nil, "CreateRecord")
		return r.ID
	}
	p50, p30, p10, p0 := pend(50*time.Minute), pend(30*time.Minute), pend(10*time.Minute), pend(0)
	a40, a20 := await(deadline.Add(-40*time.Minute)), await(deadline.Add(-20*time.Minute))
	expected = []string{p50, a40, p30, a20, p10, p0}

	// Not due: pending expiring after now, awaiting created at or after the
	// upload deadline, and records in other states.
	pend(-time.Second)
	await(deadline)
	await(now)
	sealed, _ := stagedRecord(t, s, user, now.Add(time.Minute))
	want(t, s.SealRecord(ctx, sealed.ID, newSeal(t), now), nil, "SealRecord")
	want(t, s.EndRecord(ctx, pend(time.Hour), store.RecordRejected, now), nil, "EndRecord")
	want(t, s.EndRecord(ctx, await(deadline.Add(-time.Hour)), store.RecordExpired, now), nil, "EndRecord")

	all, err := s.RecordsToExpire(ctx, now, deadline, 100)
	want(t, err, nil, "RecordsToExpire")
	same(t, recordIDs(all), expected, "RecordsToExpire, earliest deadline first")

	// In batches, ending each batch as the sweeper does.
	var swept []string
	for range 10 {
		batch, err := s.RecordsToExpire(ctx, now, deadline, 4)
		want(t, err, nil, "RecordsToExpire")
		if len(batch) > 4 {
			t.Fatalf("RecordsToExpire with limit 4 returned %d", len(batch))
		}
		if len(batch) == 0 {
			break
		}
		for _, r := range batch {
			want(t, s.EndRecord(ctx, r.ID, store.RecordExpired, now), nil, "EndRecord of a swept record")
			swept = append(swept, r.ID)
		}
	}
	same(t, swept, expected, "records swept in batches")

	_, err = s.RecordsToExpire(ctx, now, deadline, 0)
	want(t, err, store.ErrInvalid, "RecordsToExpire with limit 0")
	_, err = s.RecordsToExpire(ctx, now, deadline, store.MaxLimit+1)
	want(t, err, store.ErrInvalid, "RecordsToExpire over MaxLimit")
	_, err = s.RecordsToExpire(ctx, time.Time{}, deadline, 1)
	want(t, err, store.ErrInvalid, "RecordsToExpire without a time")
}

func recordIDs(rs []*store.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

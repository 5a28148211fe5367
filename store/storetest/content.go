package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// inlineStaging is a staging that brings the ciphertext itself.
func inlineStaging(t testing.TB, record string, expires time.Time, size int) store.Staging {
	st := newStaging(t, record, expires)
	st.BlobName, st.Content = "", random(size)
	return st
}

// wantContent checks what RecordContent returns for id: content, or
// ErrNotFound when content is nil.
func wantContent(t *testing.T, s store.Store, id string, content []byte, what string) {
	t.Helper()
	got, err := s.RecordContent(ctxOf(t), id)
	if content == nil {
		want(t, err, store.ErrNotFound, "RecordContent %s", what)
		return
	}
	want(t, err, nil, "RecordContent %s", what)
	if !bytes.Equal(got, content) {
		t.Fatalf("RecordContent %s: %d bytes, not the %d staged", what, len(got), len(content))
	}
}

// testRecordContent: a small record's ciphertext kept by the store
// (Staging.Content) exists exactly while its record is pending approval or
// sealed, and never appears in GetRecord.
func testRecordContent(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	user := newID(t, ids.User)
	expires := t0.Add(time.Hour)

	r := newRecord(t, user, newID(t, ids.Client), t0)
	want(t, s.CreateRecord(ctx, r), nil, "CreateRecord")
	wantContent(t, s, r.ID, nil, "of a record awaiting upload")
	st := inlineStaging(t, r.ID, expires, store.MaxInlineContent)
	want(t, s.StageRecord(ctx, r.ID, st), nil, "StageRecord with content")
	wantR := *r
	wantR.State = store.RecordPendingApproval
	wantR.Size, wantR.ContentSHA256, wantR.Input = st.Size, st.ContentSHA256, st.Input
	wantR.DeviceKeyID, wantR.RequestID, wantR.ExpiresAt = st.DeviceKeyID, st.RequestID, st.ExpiresAt
	same(t, getRecord(t, s, r.ID), &wantR, "GetRecord of a record staged with content")
	wantContent(t, s, r.ID, st.Content, "of a staged record")

	// A refused second staging leaves the first content.
	want(t, s.StageRecord(ctx, r.ID, inlineStaging(t, r.ID, expires, 10)), store.ErrConflict, "StageRecord a second time")
	wantContent(t, s, r.ID, st.Content, "after a refused second staging")

	seal := newSeal(t)
	want(t, s.SealRecord(ctx, r.ID, seal, t0), nil, "SealRecord")
	wantContent(t, s, r.ID, st.Content, "of a sealed record")
	want(t, s.EndRecord(ctx, r.ID, store.RecordExpired, t0), store.ErrConflict, "EndRecord of a sealed record")
	wantContent(t, s, r.ID, st.Content, "of a sealed record after a refused EndRecord")

	// Ended records keep no content, rejected or expired.
	for _, to := range []string{store.RecordRejected, store.RecordExpired} {
		e := newRecord(t, user, newID(t, ids.Client), t0)
		want(t, s.CreateRecord(ctx, e), nil, "CreateRecord")
		want(t, s.StageRecord(ctx, e.ID, inlineStaging(t, e.ID, expires, 4096)), nil, "StageRecord with content")
		want(t, s.EndRecord(ctx, e.ID, to, t0), nil, "EndRecord %s", to)
		wantContent(t, s, e.ID, nil, "of a record ended "+to)
	}

	// A record staged with a blob name has no content in the store.
	b, _ := stagedRecord(t, s, user, expires)
	wantContent(t, s, b.ID, nil, "of a record whose ciphertext is a blob")
	wantContent(t, s, newRecordID(t, t0), nil, "of an unknown record")
	_, err := s.RecordContent(ctx, "rec_../x")
	want(t, err, store.ErrInvalid, "RecordContent of a malformed id")

	// Bad contents change nothing.
	fresh := newRecord(t, user, newID(t, ids.Client), t0)
	want(t, s.CreateRecord(ctx, fresh), nil, "CreateRecord")
	for name, edit := range map[string]func(st *store.Staging){
		"blob name and content": func(st *store.Staging) { st.BlobName = fresh.ID },
		"empty content":         func(st *store.Staging) { st.Content = []byte{} },
		"oversize content":      func(st *store.Staging) { st.Content = random(store.MaxInlineContent + 1) },
	} {
		st := inlineStaging(t, fresh.ID, expires, 100)
		edit(&st)
		want(t, s.StageRecord(ctx, fresh.ID, st), store.ErrInvalid, "StageRecord with %s", name)
		want(t, s.StageAndAsk(ctx, fresh.ID, st, askFor(t, fresh, st), newAuditEntry(user, store.EventApprovalRequested, t0)),
			store.ErrInvalid, "StageAndAsk with %s", name)
	}
	if got := getRecord(t, s, fresh.ID).State; got != store.RecordAwaitingUpload {
		t.Fatalf("state after refused stagings: %s", got)
	}
	wantContent(t, s, fresh.ID, nil, "after refused stagings")

	// StageAndAsk: the content comes with the staging, or not at all.
	taken := createRequest(t, s, newRequest(t, store.KindCreate, user, t0, expires))
	st2 := inlineStaging(t, fresh.ID, expires, 4096)
	st2.RequestID = taken.ID
	want(t, s.StageAndAsk(ctx, fresh.ID, st2, askFor(t, fresh, st2), newAuditEntry(user, store.EventApprovalRequested, t0)),
		store.ErrConflict, "StageAndAsk with content and an existing request id")
	wantContent(t, s, fresh.ID, nil, "after a refused StageAndAsk")
	st3 := inlineStaging(t, fresh.ID, expires, 4096)
	q := askFor(t, fresh, st3)
	want(t, s.StageAndAsk(ctx, fresh.ID, st3, q, newAuditEntry(user, store.EventApprovalRequested, t0)), nil, "StageAndAsk with content")
	wantContent(t, s, fresh.ID, st3.Content, "after StageAndAsk")
	if got := getRecord(t, s, fresh.ID); got.BlobName != "" || got.State != store.RecordPendingApproval {
		t.Fatalf("record after StageAndAsk with content: state %s, blob name %q", got.State, got.BlobName)
	}
	sealed, err := s.AnswerAndSeal(ctx, sealingAnswer(t, fresh, q), t0)
	if err != nil || !sealed {
		t.Fatalf("AnswerAndSeal of a record with content: %v, %v", sealed, err)
	}
	wantContent(t, s, fresh.ID, st3.Content, "after AnswerAndSeal")
}

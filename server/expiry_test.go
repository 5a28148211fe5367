package server

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/blobdir"
	"github.com/assent-dev/assent/threshold"
)

// stagedNames lists the files of the blob directory's staging area, also
// those still being written (which StagedBefore leaves out).
func (e *testEnv) stagedNames(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.dir, "blobs", blobdir.StagedDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	return names
}

func TestExpiry(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	sealedID := e.sealed(t, d, []byte("sealed before"))

	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, []byte("never approved"))
	q := d.request(t, p.RequestID)
	access := e.askAccess(t, sealedID, e.reader)
	never := e.createRecord(t, d.userID) // never uploaded

	// Nothing expires early.
	e.clock.Advance(e.cfg.ApprovalTTL - time.Second)
	if err := e.srv.sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := e.record(t, rid, e.writer, ""); r.State != "pending_approval" {
		t.Fatalf("record %s before its expiry", r.State)
	}

	e.clock.Advance(time.Second)
	// A pending request past its expiry shows as expired and cannot be
	// answered even before the sweeper runs.
	if got := d.request(t, q.RequestID); got.State != "expired" {
		t.Errorf("request shows %s past its expiry", got.State)
	}
	d.answer(t, q, threshold.DecisionApprove).wantError(t, http.StatusGone, "expired")

	if err := e.srv.sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := e.record(t, rid, e.writer, ""); r.State != "expired" {
		t.Fatalf("record %s after the sweep", r.State)
	}
	if s := e.session(t, access.SessionID, e.reader, ""); s.State != "expired" {
		t.Fatalf("session %s after the sweep", s.State)
	}
	if slices.Contains(e.stagedNames(t), rid) {
		t.Error("expired record's staged blob is still there")
	}
	if n := e.srv.pending.len(); n != 0 {
		t.Errorf("%d pending secrets after expiry", n)
	}
	if len(d.pending(t)) != 0 {
		t.Error("expired requests still listed")
	}
	d.answer(t, q, threshold.DecisionApprove).wantError(t, http.StatusGone, "expired")

	// The record never uploaded expires after the upload deadline.
	e.clock.Advance(e.cfg.WithDefaults().UploadDeadline)
	if err := e.srv.sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := e.record(t, never, e.writer, ""); r.State != "expired" {
		t.Fatalf("never uploaded record %s", r.State)
	}
	// The sealed record is untouched.
	if r := e.record(t, sealedID, e.writer, ""); r.State != "sealed" {
		t.Fatalf("sealed record %s", r.State)
	}

	// An open session expires after its TTL, and its key goes.
	sid := e.openSession(t, d, sealedID)
	if e.srv.keys.len() != 1 {
		t.Fatal("no key held for the open session")
	}
	e.clock.Advance(e.cfg.SessionTTL)
	e.do(http.MethodGet, "/v1/sessions/"+sid+"/content", e.reader, nil).wantError(t, http.StatusGone, "expired")
	if err := e.srv.sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s := e.session(t, sid, e.reader, ""); s.State != "expired" {
		t.Fatalf("session %s after its TTL", s.State)
	}
	if e.srv.keys.len() != 0 {
		t.Error("session key held after expiry")
	}
	var chain api.AuditList
	e.do(http.MethodGet, "/v1/users/"+d.userID+"/audit", e.admin, nil).want(t, http.StatusOK).decode(t, &chain)
	events := verifyAudit(t, chain.Entries)
	for _, ev := range []string{store.EventRecordExpired, store.EventSessionExpired} {
		if !slices.Contains(events, ev) {
			t.Errorf("no %s in the audit chain %v", ev, events)
		}
	}
}

// TestBackgroundSweeper: the sweeper runs by itself at its interval.
func TestBackgroundSweeper(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SweepInterval = 20 * time.Millisecond })
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	e.upload(t, rid, []byte("x"))
	e.clock.Advance(e.cfg.ApprovalTTL)
	if r := e.record(t, rid, e.writer, "?wait=5"); r.State != "expired" {
		t.Fatalf("record %s; the sweeper did not expire it", r.State)
	}
}

// TestRestart: what a run left pending expires at the next start and its
// staged blob goes; what was sealed still opens.
func TestRestart(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	content := bytes.Repeat([]byte("persistent "), 10000)
	sealedID := e.sealed(t, d, content)
	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, []byte("pending at shutdown"))
	q := d.request(t, p.RequestID)
	access := e.askAccess(t, sealedID, e.reader)
	openSID := e.openSession(t, d, sealedID)

	e.restart()

	if r := e.record(t, rid, e.writer, ""); r.State != "expired" {
		t.Fatalf("pending record %s after restart", r.State)
	}
	if slices.Contains(e.stagedNames(t), rid) {
		t.Error("staged blob of the pending record survived the restart")
	}
	if s := e.session(t, access.SessionID, e.reader, ""); s.State != "expired" {
		t.Fatalf("pending session %s after restart", s.State)
	}
	d.answer(t, q, threshold.DecisionApprove).wantError(t, http.StatusGone, "expired")

	// The session opened by the earlier run lost its key with it.
	e.do(http.MethodGet, "/v1/sessions/"+openSID+"/content", e.reader, nil).wantError(t, http.StatusGone, "expired")
	if s := e.session(t, openSID, e.reader, ""); s.State != "expired" {
		t.Fatalf("session of the earlier run %s", s.State)
	}

	sid := e.openSession(t, d, sealedID)
	got := e.do(http.MethodGet, "/v1/sessions/"+sid+"/content", e.reader, nil).want(t, http.StatusOK)
	if !bytes.Equal(got.body, content) {
		t.Fatal("content differs after restart")
	}
}

// TestApprovedBeforeRestart: an approval stored but not acted on before the
// node stopped cannot be used (the data key is gone); the record expires
// and its blob goes, rather than staying pending forever.
func TestApprovedBeforeRestart(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.NodeID = "node-a" })
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, []byte("approved while the owner was away"))
	q := d.request(t, p.RequestID)
	a := d.answerBody(t, q, threshold.DecisionApprove)

	// Record the answer as another node would, straight in the store, with
	// the owner down.
	stmt := statement(t, q, threshold.DecisionApprove)
	// The owner crashes: its secrets die and nothing ends its requests (a
	// graceful stop would expire them at once).
	e.srv.pending.clearAll()
	e.stop()
	e.cfg.NodeID = "node-b"
	e.open()
	err := e.st.AnswerRequest(t.Context(), q.RequestID, store.Answer{
		Decision: a.Decision, EvaluatedElements: a.EvaluatedElements, Proof: a.Proof,
		Approval:   store.Approval{DeviceID: d.id, Statement: stmt, Signature: a.Signature},
		AnsweredAt: e.clock.Now(),
	}, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.stop()
	e.cfg.NodeID = "node-a"
	e.open()
	if r := e.record(t, rid, e.writer, "?wait=5"); r.State != "expired" {
		t.Fatalf("record %s", r.State)
	}
	if slices.Contains(e.stagedNames(t), rid) {
		t.Error("staged blob left")
	}
}

// TestStaleStagedBlobs: a staged blob left by a crashed upload blocks a new
// upload of its record only for a minute. The sweeper deletes a stale
// staged blob once its record is over (expired here); a pending record's
// blob stays, and so does one of a record still awaiting its upload.
func TestStaleStagedBlobs(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	crashed := e.createRecord(t, d.userID)
	leftover := e.createRecord(t, d.userID)
	for _, name := range []string{crashed, leftover} {
		e.leaveStaged(t, name)
	}
	// Records too large for the store to keep: their uploads stage blobs.
	pendingID := e.createRecord(t, d.userID)
	e.upload(t, pendingID, largeContent(t))
	retry := largeContent(t)
	e.do(http.MethodPut, "/v1/records/"+crashed+"/content", e.writer, retry).wantError(t, http.StatusConflict, "conflict")
	e.clock.Advance(staleUpload + time.Second)
	// The clock is the server's; the blob directory dates files by the
	// system clock, so move the files back in time as well.
	for _, name := range []string{crashed, leftover} {
		old := time.Now().Add(-time.Hour)
		if err := os.Chtimes(filepath.Join(e.dir, "blobs", blobdir.StagedDir, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	e.upload(t, crashed, retry)

	if err := os.Chtimes(filepath.Join(e.dir, "blobs", blobdir.StagedDir, pendingID), time.Now().Add(-time.Hour), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(e.cfg.ApprovalTTL + processingGrace + stagedMargin - staleUpload)
	if err := e.srv.sweepStaged(t.Context()); err != nil {
		t.Fatal(err)
	}
	staged := e.stagedNames(t)
	if !slices.Contains(staged, pendingID) || !slices.Contains(staged, crashed) {
		t.Error("the sweeper deleted the staged blob of a pending record")
	}
	if !slices.Contains(staged, leftover) {
		t.Error("the sweeper deleted the staged blob of a record awaiting upload")
	}

	// The record awaiting upload expires; its blob goes.
	e.clock.Advance(e.srv.cfg.UploadDeadline)
	if err := e.srv.sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := e.record(t, leftover, e.writer, ""); r.State != "expired" {
		t.Fatalf("record awaiting upload is %s after the upload deadline", r.State)
	}
	if slices.Contains(e.stagedNames(t), leftover) {
		t.Error("the sweeper kept the staged blob of an expired record")
	}
}

// sealingBlobs is a blob store that runs hook after each StagedBefore
// listing, before the caller acts on it.
type sealingBlobs struct {
	store.BlobStore
	hook func()
}

func (b *sealingBlobs) StagedBefore(ctx context.Context, t time.Time) ([]string, error) {
	names, err := b.BlobStore.StagedBefore(ctx, t)
	if b.hook != nil {
		b.hook()
	}
	return names, err
}

// TestStagedSweepSealRace: a record sealed between the sweeper's listing of
// staged blobs and its look at the record keeps its content. The sweeper
// deletes a staged blob only when the record is gone, rejected or expired.
func TestStagedSweepSealRace(t *testing.T) {
	blobs := &sealingBlobs{}
	// An approval TTL this short lists a pending record's blob as stale
	// before the record can expire.
	e := newEnv(t, func(c *Config) { c.ApprovalTTL = time.Second }, func(d *Deps) {
		blobs.BlobStore = d.Blobs
		d.Blobs = blobs
	})
	d := e.userWithDevice(t)
	content := largeContent(t) // staged as a blob
	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, content)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(e.dir, "blobs", blobdir.StagedDir, rid), old, old); err != nil {
		t.Fatal(err)
	}
	q := d.request(t, p.RequestID)
	blobs.hook = func() {
		blobs.hook = nil
		d.answer(t, q, threshold.DecisionApprove).want(t, http.StatusOK)
	}
	if err := e.srv.sweepStaged(t.Context()); err != nil {
		t.Fatal(err)
	}
	if blobs.hook != nil {
		t.Fatal("the sweeper did not list the staged blob")
	}
	if r := e.record(t, rid, e.writer, ""); r.State != "sealed" {
		t.Fatalf("record is %s, want sealed", r.State)
	}
	sid := e.openSession(t, d, rid)
	got := e.do(http.MethodGet, "/v1/sessions/"+sid+"/content", e.reader, nil).want(t, http.StatusOK)
	if !bytes.Equal(got.body, content) {
		t.Fatal("the sealed record's content was deleted by the sweeper")
	}
}

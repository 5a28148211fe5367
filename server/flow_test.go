package server

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/envelope"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// TestSealAndOpen runs the whole life of a record: a user and device, a
// record sealed with the device's approval, an access session approved,
// the plaintext downloaded intact, the audit chain complete and valid.
func TestSealAndOpen(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	content := randomContent(t, 3*envelope.ChunkSize+1234)
	sum := sha256.Sum256(content)

	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, content)
	if !p.ExpiresAt.Equal(e.clock.Now().Add(e.cfg.ApprovalTTL)) {
		t.Errorf("request expires at %s, want now + approval TTL", p.ExpiresAt)
	}
	if r := e.record(t, rid, e.writer, ""); r.State != "pending_approval" || *r.Size != int64(len(content)) ||
		!bytes.Equal(r.ContentSHA256, sum[:]) || r.Approval != nil || r.SealedAt != nil {
		t.Fatalf("pending record %+v", r)
	}

	// The ciphertext is staged, and is not the plaintext.
	if staged := e.stagedNames(t); !slices.Contains(staged, rid) {
		t.Fatalf("staged blobs %v; want %s", staged, rid)
	}

	list := d.pending(t)
	if len(list) != 1 {
		t.Fatalf("%d pending requests, want 1", len(list))
	}
	q := list[0]
	if q.RequestID != p.RequestID || q.Kind != "create" || q.RecordID != rid || q.UserID != d.userID ||
		q.DeviceKeyID != d.keyID() || q.Record.Size != int64(len(content)) || !bytes.Equal(q.Record.ContentSHA256, sum[:]) ||
		q.Record.Title != "Blood test 2026-11" || q.Purpose != "lab results" || q.Requester.Name != "writer" ||
		q.State != "pending" || len(q.BlindedElements) != 1 || len(q.BlindedElements[0]) != 32 {
		t.Fatalf("device request %+v", q)
	}

	ans := d.answerBody(t, q, threshold.DecisionApprove)
	var reply api.DeviceResponseAnswer
	d.post(t, q.RequestID, ans).want(t, http.StatusOK).decode(t, &reply)
	if reply.State != "approved" || reply.RequestID != q.RequestID {
		t.Fatalf("answer reply %+v", reply)
	}
	r := e.record(t, rid, e.writer, "?wait=5")
	if r.State != "sealed" || r.SealedAt == nil || r.Approval == nil || r.Approval.DeviceID != d.id {
		t.Fatalf("sealed record %+v", r)
	}
	// Anyone with the device's key can check what the user approved.
	if !bytes.Equal(r.Approval.Statement, statement(t, q, threshold.DecisionApprove)) ||
		!ed25519.Verify(d.signPub(), r.Approval.Statement, r.Approval.Signature) {
		t.Fatal("record approval does not verify against the statement the device signed")
	}
	// The node that processed the answer (inline or the poller) drops the
	// secrets right after sealing.
	waitFor(t, func() bool { return e.srv.pending.len() == 0 }, "pending secrets to be cleared after sealing")
	// The blob is committed: no longer staged, and readable.
	if slices.Contains(e.stagedNames(t), rid) {
		t.Error("blob still staged after sealing")
	}
	if len(d.pending(t)) != 0 {
		t.Error("request still listed as pending")
	}

	// A client with records:access reads the metadata; one without, not its
	// creator, cannot.
	e.record(t, rid, e.reader, "")
	e.do(http.MethodGet, "/v1/records/"+rid, e.admin, nil).wantError(t, http.StatusForbidden, "forbidden")

	sid := e.openSession(t, d, rid)
	s := e.session(t, sid, e.reader, "")
	if s.DownloadsLeft != 1 || s.RecordID != rid || !s.ExpiresAt.Equal(e.clock.Now().Add(e.cfg.SessionTTL)) {
		t.Fatalf("open session %+v", s)
	}
	// Another requester may not use the session.
	e.do(http.MethodGet, "/v1/sessions/"+sid, e.other, nil).wantError(t, http.StatusForbidden, "forbidden")
	e.do(http.MethodGet, "/v1/sessions/"+sid+"/content", e.other, nil).wantError(t, http.StatusForbidden, "forbidden")

	got := e.do(http.MethodGet, "/v1/sessions/"+sid+"/content", e.reader, nil).want(t, http.StatusOK)
	if !bytes.Equal(got.body, content) {
		t.Fatal("downloaded content differs from the upload")
	}
	if h := got.header.Get("Repr-Digest"); h != "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":" {
		t.Errorf("Repr-Digest %q", h)
	}
	if got.header.Get("Content-Type") != "application/pdf" || got.header.Get("Content-Length") != strconv.Itoa(len(content)) {
		t.Errorf("headers %v", got.header)
	}
	if s := e.session(t, sid, e.reader, ""); s.State != "consumed" || s.DownloadsLeft != 0 {
		t.Fatalf("session after its download %+v", s)
	}
	e.do(http.MethodGet, "/v1/sessions/"+sid+"/content", e.reader, nil).wantError(t, http.StatusGone, "gone")
	if n := e.srv.keys.len(); n != 0 {
		t.Errorf("%d session keys held after the last download", n)
	}

	// The audit chain, read by the third party and by the device, is whole
	// and tells the story.
	var chain api.AuditList
	d.call(t, http.MethodGet, "/v1/device/audit", nil).want(t, http.StatusOK).decode(t, &chain)
	events := verifyAudit(t, chain.Entries)
	want := []string{
		store.EventUserCreated, store.EventDeviceEnrolled, store.EventRecordCreated, store.EventApprovalRequested,
		store.EventApproved, store.EventRecordSealed, store.EventAccessRequested, store.EventApproved,
		store.EventSessionOpened, store.EventContentDelivered,
	}
	if !slices.Equal(events, want) {
		t.Errorf("audit events %v, want %v", events, want)
	}
	var admin api.AuditList
	e.do(http.MethodGet, "/v1/users/"+d.userID+"/audit?after=2&limit=3", e.admin, nil).want(t, http.StatusOK).decode(t, &admin)
	if len(admin.Entries) != 3 || admin.Entries[0].Seq != 3 {
		t.Errorf("audit page after=2 limit=3: %d entries from %d", len(admin.Entries), admin.Entries[0].Seq)
	}

	// Nothing secret reached the log: no API key, no content.
	logs := e.logs.String()
	for _, key := range []string{e.admin, e.writer, e.reader} {
		if bytes.Contains([]byte(logs), []byte(key[len(apiKeyTag)+apiKeyPrefixLen+1:])) {
			t.Error("an API key secret is in the log")
		}
	}
	if bytes.Contains([]byte(logs), []byte("Blood test")) {
		t.Error("a record title is in the log")
	}
}

// verifyAudit checks the chain as a device does and returns its events.
func verifyAudit(t *testing.T, entries []wireAudit) []string {
	t.Helper()
	chain := make([]*store.AuditEntry, len(entries))
	events := make([]string, len(entries))
	for i, w := range entries {
		chain[i] = &store.AuditEntry{
			UserID: w.UserID, Seq: w.Seq, Event: w.Event, Actor: w.Actor, Subject: w.Subject,
			Details: w.Details, At: w.At, PrevHash: w.PrevHash, Hash: w.Hash,
		}
		events[i] = w.Event
	}
	if err := store.VerifyChain(chain); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
	return events
}

// TestDeny: a denied create is rejected and its staged ciphertext deleted;
// a denied access leaves the session denied.
func TestDeny(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, []byte("not wanted"))
	d.answer(t, d.request(t, p.RequestID), threshold.DecisionDeny).want(t, http.StatusOK)
	if r := e.record(t, rid, e.writer, "?wait=5"); r.State != "rejected" || r.Approval != nil {
		t.Fatalf("denied record %+v", r)
	}
	if _, err := e.blobs.Open(t.Context(), rid); err == nil {
		t.Error("a rejected record's blob can be opened")
	}
	if slices.Contains(e.stagedNames(t), rid) {
		t.Error("a rejected record's blob is still staged")
	}
	waitFor(t, func() bool { return e.srv.pending.len() == 0 }, "secrets to be cleared after a deny")
	e.do(http.MethodPut, "/v1/records/"+rid+"/content", e.writer, []byte("again")).wantError(t, http.StatusConflict, "conflict")

	sealed := e.sealed(t, d, []byte("kept"))
	a := e.askAccess(t, sealed, e.reader)
	d.answer(t, d.request(t, a.RequestID), threshold.DecisionDeny).want(t, http.StatusOK)
	if s := e.session(t, a.SessionID, e.reader, "?wait=5"); s.State != "denied" {
		t.Fatalf("denied session %+v", s)
	}
	e.do(http.MethodGet, "/v1/sessions/"+a.SessionID+"/content", e.reader, nil).wantError(t, http.StatusConflict, "conflict")
}

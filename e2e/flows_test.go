package e2e

import (
	"bytes"
	"crypto/sha256"
	"net/http"
	"testing"
	"time"

	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// A size that spans several 64 KiB envelope chunks and ends mid-chunk.
const recordSize = 3*64<<10 + 123

// create -> approve -> sealed: the record is sealed with the approval the
// device signed over exactly what was uploaded, and shown to the device as
// uploaded.
func TestCreateApproveSealed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	data := content(1, recordSize)
	sum := sha256.Sum256(data)
	p := e.upload("Blood test", "storage", data)
	r := e.awaitRecord(e.clinic, p.RecordID, store.RecordSealed)

	if r.Size == nil || *r.Size != recordSize || !bytes.Equal(r.ContentSHA256, sum[:]) {
		t.Fatalf("sealed record has size %v and digest %x, want %d and %x", r.Size, r.ContentSHA256, recordSize, sum)
	}
	if r.SealedAt == nil || r.Approval == nil || r.Approval.DeviceID != e.dev.Identity.DeviceID {
		t.Fatalf("sealed record lacks sealed_at or the approval of device %s: %+v", e.dev.Identity.DeviceID, r)
	}
	// Anyone holding the device's public key can check what the user
	// approved: this request, this record, this digest, this requester.
	req, err := e.dev.Client.GetRequest(e.ctx, p.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	want, err := (&threshold.Statement{
		RequestID: p.RequestID, Kind: threshold.KindCreate, UserID: e.user.UserID, RecordID: p.RecordID,
		Decision: threshold.DecisionApprove, ContentSHA256: sum[:], RequesterID: e.clinic.ID, Purpose: "storage",
		BlindedElements: req.BlindedElements, ExpiresAt: p.ExpiresAt,
	}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Approval.Statement, want) {
		t.Fatalf("the sealed approval's statement is not the one rebuilt from the request")
	}
	if err := threshold.Verify(e.dev.Identity.SigningPublicKey(), r.Approval.Statement, r.Approval.Signature); err != nil {
		t.Fatalf("the approval's signature does not verify under the device key: %v", err)
	}
	if req.State != store.RequestApproved {
		t.Fatalf("request is %s, want approved", req.State)
	}

	pr := e.prompt(p.RequestID)
	if pr.Kind != threshold.KindCreate || pr.RecordID != p.RecordID || pr.Requester.ID != e.clinic.ID ||
		pr.Record.Title != "Blood test" || pr.Record.Size != recordSize || !bytes.Equal(pr.Record.ContentSHA256, sum[:]) {
		t.Fatalf("the device was shown %+v, not the record uploaded", pr)
	}
	if e.staged(p.RecordID) || !e.committed(p.RecordID) {
		t.Fatalf("a sealed record's blob must be committed, not staged")
	}
	if v, ok := e.dev.Ledger.Record(p.RecordID); !ok || !bytes.Equal(v.ContentSHA256, sum[:]) {
		t.Fatalf("the device ledger does not hold the sealed record")
	}
	audit := e.audit()
	if n := countEvents(audit, store.EventRecordSealed)[p.RecordID]; n != 1 {
		t.Fatalf("record_sealed %d times, want once", n)
	}
	if n := countEvents(audit, store.EventApproved)[p.RequestID]; n != 1 {
		t.Fatalf("approved %d times, want once", n)
	}
}

// create -> deny -> rejected, and the staged ciphertext is gone.
func TestCreateDenyRejected(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	p := e.upload("Unwanted", "marketing "+purposeDeny, content(2, recordSize))
	r := e.awaitRecord(e.clinic, p.RecordID, store.RecordRejected)
	if r.Approval != nil || r.SealedAt != nil {
		t.Fatalf("a rejected record shows an approval or sealed_at: %+v", r)
	}
	if e.staged(p.RecordID) || e.committed(p.RecordID) {
		t.Fatalf("the rejected record's ciphertext is still stored")
	}
	audit := e.audit()
	if countEvents(audit, store.EventDenied)[p.RequestID] != 1 || countEvents(audit, store.EventRecordRejected)[p.RecordID] != 1 ||
		countEvents(audit, store.EventRecordSealed)[p.RecordID] != 0 {
		t.Fatalf("audit chain does not show one denial and one rejection without a seal")
	}
	_, err := e.clinic.Access(e.ctx, p.RecordID, "look anyway")
	wantAPIError(t, err, http.StatusConflict, "conflict")
}

// create -> no answer -> expired: the sweeper ends the request and the
// record, deletes the staged ciphertext, and a late answer is refused.
func TestCreateNoAnswerExpired(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{config: func(c *server.Config) { c.ApprovalTTL = 3 * time.Second }})
	p := e.upload("Never answered", "storage "+purposeHold, content(3, recordSize))
	if !e.staged(p.RecordID) {
		t.Fatalf("a record pending approval has no staged blob")
	}
	r := e.awaitRecord(e.clinic, p.RecordID, store.RecordExpired)
	if r.Approval != nil {
		t.Fatalf("an expired record shows an approval")
	}
	if e.staged(p.RecordID) || e.committed(p.RecordID) {
		t.Fatalf("the expired record's ciphertext is still stored")
	}
	req, err := e.dev.Client.GetRequest(e.ctx, p.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if req.State != store.RequestExpired {
		t.Fatalf("request is %s, want expired", req.State)
	}
	e.prompt(p.RequestID) // the device was asked, and did not answer
	_, err = e.dev.Client.Respond(e.ctx, p.RequestID, handAnswer(t, e.dev.Identity, req, threshold.DecisionApprove).response(t))
	wantAPIError(t, err, http.StatusGone, "expired")
	r, err = e.clinic.Record(e.ctx, p.RecordID, 0)
	if err != nil || r.State != store.RecordExpired {
		t.Fatalf("after a late answer the record is %v (%v), want expired", r, err)
	}
	if countEvents(e.audit(), store.EventRecordExpired)[p.RecordID] != 1 {
		t.Fatalf("audit chain does not show the record expiring once")
	}
}

// access -> approve -> the content downloaded is the content uploaded,
// with the approved digest; the device is shown the record as its ledger
// knows it. The session allows one download: a second gets 410.
func TestAccessApproveIdentical(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	data := content(4, recordSize)
	r := e.seal("X-ray", data)
	p := e.open(e.clinic, r.RecordID, "second opinion", store.SessionOpen)

	pr := e.prompt(p.RequestID)
	if pr.Kind != threshold.KindAccess || pr.UnknownToLedger || pr.Mismatch || pr.Record.Title != "X-ray" ||
		pr.Purpose != "second opinion" || pr.Requester.ID != e.clinic.ID {
		t.Fatalf("the device was shown %+v for the access", pr)
	}
	s, err := e.clinic.Session(e.ctx, p.SessionID, 0)
	if err != nil || s.DownloadsLeft != 1 || s.RecordID != r.RecordID {
		t.Fatalf("open session is %+v (%v), want one download of %s", s, err, r.RecordID)
	}
	e.download(e.clinic, p.SessionID, data)

	s, err = e.clinic.Session(e.ctx, p.SessionID, 0)
	if err != nil || s.State != store.SessionConsumed || s.DownloadsLeft != 0 {
		t.Fatalf("after its one download the session is %+v (%v), want consumed", s, err)
	}
	_, err = e.clinic.Download(e.ctx, p.SessionID, &bytes.Buffer{})
	wantAPIError(t, err, http.StatusGone, "gone")

	audit := e.audit()
	if countEvents(audit, store.EventSessionOpened)[p.SessionID] != 1 || countEvents(audit, store.EventContentDelivered)[p.SessionID] != 1 {
		t.Fatalf("audit chain does not show the session opened once and delivered once")
	}
}

// access -> deny: the session is denied and serves nothing.
func TestAccessDeny(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	r := e.seal("Prescription", content(5, recordSize))
	p := e.open(e.clinic, r.RecordID, "advertising "+purposeDeny, store.SessionDenied)
	_, err := e.clinic.Download(e.ctx, p.SessionID, &bytes.Buffer{})
	wantAPIError(t, err, http.StatusConflict, "conflict")
	audit := e.audit()
	if countEvents(audit, store.EventSessionDenied)[p.SessionID] != 1 || countEvents(audit, store.EventContentDelivered)[p.SessionID] != 0 {
		t.Fatalf("audit chain does not show the session denied without delivery")
	}
	// The record itself is unharmed: a later, approved access opens it.
	q := e.open(e.clinic, r.RecordID, "treatment", store.SessionOpen)
	e.download(e.clinic, q.SessionID, content(5, recordSize))
}

// Another requester's session -> 403, and the owner's session is untouched.
func TestOtherRequesterSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	insurer, err := NewThirdParty(e.ctx, e.node, "Insurer", server.ScopeRecordsAccess)
	if err != nil {
		t.Fatal(err)
	}
	data := content(6, recordSize)
	r := e.seal("Scan", data)
	p := e.open(e.clinic, r.RecordID, "treatment", store.SessionOpen)

	_, err = insurer.Session(e.ctx, p.SessionID, 0)
	wantAPIError(t, err, http.StatusForbidden, "forbidden")
	_, err = insurer.Download(e.ctx, p.SessionID, &bytes.Buffer{})
	wantAPIError(t, err, http.StatusForbidden, "forbidden")

	s, err := e.clinic.Session(e.ctx, p.SessionID, 0)
	if err != nil || s.State != store.SessionOpen || s.DownloadsLeft != 1 {
		t.Fatalf("after the other requester's tries the session is %+v (%v), want open with its download", s, err)
	}
	e.download(e.clinic, p.SessionID, data)
	if n := countEvents(e.audit(), store.EventContentDelivered)[p.SessionID]; n != 1 {
		t.Fatalf("content delivered %d times, want once (to the owner)", n)
	}
}

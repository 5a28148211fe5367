package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"testing"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// The device answers in these tests are built by hand (answer, signedCall),
// each bad one tampered in exactly one part; after every refusal the
// request and its record or session must be exactly as before, and the
// honest answer must still work.

// pendingCreate uploads a record and fetches its request as the device
// sees it.
func (e *env) pendingCreate(title string, data []byte) (*Pending, *device.Request) {
	e.t.Helper()
	p := e.upload(title, "storage", data)
	req, err := e.dev.Client.GetRequest(e.ctx, p.RequestID)
	if err != nil {
		e.t.Fatalf("fetching request %s: %v", p.RequestID, err)
	}
	if req.Kind != threshold.KindCreate || req.RecordID != p.RecordID || req.State != store.RequestPending {
		e.t.Fatalf("request %s is %+v, want a pending create of %s", p.RequestID, req, p.RecordID)
	}
	return p, req
}

// stillPending checks that a create request and its record did not move.
func (e *env) stillPending(p *Pending) {
	e.t.Helper()
	req, err := e.dev.Client.GetRequest(e.ctx, p.RequestID)
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := e.clinic.Record(e.ctx, p.RecordID, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	if req.State != store.RequestPending || r.State != store.RecordPendingApproval || r.Approval != nil {
		e.t.Fatalf("after a refused answer the request is %s and the record %s, want both still pending", req.State, r.State)
	}
	if !e.staged(p.RecordID) {
		e.t.Fatalf("after a refused answer the record's staged blob is gone")
	}
	audit := e.audit()
	if countEvents(audit, store.EventApproved)[p.RequestID]+countEvents(audit, store.EventDenied)[p.RequestID] != 0 {
		e.t.Fatalf("the audit chain records an answer that was refused")
	}
}

// respond posts an answer with the device's own client (honestly signed
// request) and returns the refusal, or nil.
func (e *env) respond(requestID string, r *device.Response) error {
	_, err := e.dev.Client.Respond(e.ctx, requestID, r)
	return err
}

// answerHonestly approves a create by hand and checks it is sealed once.
func (e *env) answerHonestly(p *Pending, req *device.Request) {
	e.t.Helper()
	if err := e.respond(p.RequestID, handAnswer(e.t, e.dev.Identity, req, threshold.DecisionApprove).response(e.t)); err != nil {
		e.t.Fatalf("the honest answer was refused: %v", err)
	}
	e.awaitRecord(e.clinic, p.RecordID, store.RecordSealed)
	if n := countEvents(e.audit(), store.EventRecordSealed)[p.RecordID]; n != 1 {
		e.t.Fatalf("record_sealed %d times, want once", n)
	}
}

func newSigner(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return sk
}

// A replayed device response -> 409: the same answer sent again (freshly
// signed) is refused, and so is a different one; the record is sealed once.
func TestReplayedResponse(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{manual: true})
	p, req := e.pendingCreate("Lab report", content(10, recordSize))
	resp := handAnswer(t, e.dev.Identity, req, threshold.DecisionApprove).response(t)
	if err := e.respond(p.RequestID, resp); err != nil {
		t.Fatalf("first answer refused: %v", err)
	}
	r := e.awaitRecord(e.clinic, p.RecordID, store.RecordSealed)

	wantAPIError(t, e.respond(p.RequestID, resp), http.StatusConflict, "conflict")
	deny := handAnswer(t, e.dev.Identity, req, threshold.DecisionDeny).response(t)
	wantAPIError(t, e.respond(p.RequestID, deny), http.StatusConflict, "conflict")

	again, err := e.clinic.Record(e.ctx, p.RecordID, 0)
	if err != nil || again.State != store.RecordSealed || !bytes.Equal(again.Approval.Signature, r.Approval.Signature) {
		t.Fatalf("after the replays the record is %+v (%v), want sealed with the first approval", again, err)
	}
	audit := e.audit()
	if countEvents(audit, store.EventApproved)[p.RequestID] != 1 || countEvents(audit, store.EventDenied)[p.RequestID] != 0 ||
		countEvents(audit, store.EventRecordSealed)[p.RecordID] != 1 {
		t.Fatalf("audit chain does not show one approval and one seal")
	}
}

// A replayed signed device request -> 401: the very same bytes (headers
// and body) are refused the second time, before any state is looked at.
func TestReplayedSignedRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{manual: true})
	id := e.dev.Identity

	list := sign(t, id.DeviceID, id.SigningKey, http.MethodGet, "/v1/device/requests?state=pending", nil)
	if err := list.send(t, e.node.URL); err != nil {
		t.Fatalf("signed listing refused: %v", err)
	}
	wantAPIError(t, list.send(t, e.node.URL), http.StatusUnauthorized, "unauthenticated")

	p, req := e.pendingCreate("Discharge letter", content(11, recordSize))
	call := signResponse(t, id, id.SigningKey, p.RequestID, handAnswer(t, id, req, threshold.DecisionApprove).response(t))
	if err := call.send(t, e.node.URL); err != nil {
		t.Fatalf("signed answer refused: %v", err)
	}
	e.awaitRecord(e.clinic, p.RecordID, store.RecordSealed)
	wantAPIError(t, call.send(t, e.node.URL), http.StatusUnauthorized, "unauthenticated")
	if n := countEvents(e.audit(), store.EventApproved)[p.RequestID]; n != 1 {
		t.Fatalf("approved %d times, want once", n)
	}
}

// A forged signature -> 401, on the request or on the statement, and the
// record stays pending.
func TestForgedSignature(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{manual: true})
	id := e.dev.Identity
	p, req := e.pendingCreate("Referral", content(12, recordSize))
	honest := handAnswer(t, id, req, threshold.DecisionApprove).response(t)
	stranger := newSigner(t)

	t.Run("request signed by another key", func(t *testing.T) {
		err := signResponse(t, id, stranger, p.RequestID, honest).send(t, e.node.URL)
		wantAPIError(t, err, http.StatusUnauthorized, "unauthenticated")
		e.stillPending(p)
	})
	t.Run("body changed after signing", func(t *testing.T) {
		call := signResponse(t, id, id.SigningKey, p.RequestID, honest)
		call.body = append(call.body, ' ')
		wantAPIError(t, call.send(t, e.node.URL), http.StatusUnauthorized, "unauthenticated")
		e.stillPending(p)
	})
	t.Run("statement signed by another key", func(t *testing.T) {
		a := handAnswer(t, id, req, threshold.DecisionApprove)
		a.signer = stranger
		wantAPIError(t, e.respond(p.RequestID, a.response(t)), http.StatusUnauthorized, "unauthenticated")
		e.stillPending(p)
	})
	t.Run("statement of another purpose", func(t *testing.T) {
		a := handAnswer(t, id, req, threshold.DecisionApprove)
		a.stmt.Purpose = "something the user never saw"
		wantAPIError(t, e.respond(p.RequestID, a.response(t)), http.StatusUnauthorized, "unauthenticated")
		e.stillPending(p)
	})
	t.Run("deny statement sent as an approval", func(t *testing.T) {
		r := handAnswer(t, id, req, threshold.DecisionApprove).response(t)
		r.Signature = handAnswer(t, id, req, threshold.DecisionDeny).response(t).Signature
		wantAPIError(t, e.respond(p.RequestID, r), http.StatusUnauthorized, "unauthenticated")
		e.stillPending(p)
	})
	e.answerHonestly(p, req)
}

// A proof made with another key -> 400 bad_proof and the record (or the
// session) stays pending.
func TestProofWithAnotherKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{manual: true})
	id := e.dev.Identity
	other, err := oprf.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Destroy()
	data := content(13, recordSize)
	p, req := e.pendingCreate("Vaccination", data)

	a := handAnswer(t, id, req, threshold.DecisionApprove)
	a.key = other
	wantAPIError(t, e.respond(p.RequestID, a.response(t)), http.StatusBadRequest, "bad_proof")
	e.stillPending(p)
	e.answerHonestly(p, req)

	// The same for an access: the session stays pending, then opens.
	acc, err := e.clinic.Access(e.ctx, p.RecordID, "follow-up")
	if err != nil {
		t.Fatal(err)
	}
	areq, err := e.dev.Client.GetRequest(e.ctx, acc.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	a = handAnswer(t, id, areq, threshold.DecisionApprove)
	a.key = other
	wantAPIError(t, e.respond(acc.RequestID, a.response(t)), http.StatusBadRequest, "bad_proof")
	s, err := e.clinic.Session(e.ctx, acc.SessionID, 0)
	if err != nil || s.State != store.SessionPendingApproval {
		t.Fatalf("after a bad proof the session is %+v (%v), want pending", s, err)
	}
	if err := e.respond(acc.RequestID, handAnswer(t, id, areq, threshold.DecisionApprove).response(t)); err != nil {
		t.Fatalf("the honest access answer was refused: %v", err)
	}
	if s, err := e.clinic.AwaitSession(e.ctx, acc.SessionID); err != nil || s.State != store.SessionOpen {
		t.Fatalf("session is %+v (%v), want open", s, err)
	}
	e.download(e.clinic, acc.SessionID, data)
}

// A device answering with another record's info -> rejected: an
// evaluation under record B's info for record A's request fails the proof
// (400), and B's whole answer posted to A's request fails the statement
// (401). Both records stay pending, then seal with their own answers.
func TestAnswerWithAnotherRecordsInfo(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{manual: true})
	id := e.dev.Identity
	pa, reqA := e.pendingCreate("Record A", content(14, recordSize))
	pb, reqB := e.pendingCreate("Record B", content(15, recordSize))

	a := handAnswer(t, id, reqA, threshold.DecisionApprove)
	a.info = recordInfo(t, reqB.UserID, reqB.RecordID)
	wantAPIError(t, e.respond(pa.RequestID, a.response(t)), http.StatusBadRequest, "bad_proof")
	e.stillPending(pa)

	answerB := handAnswer(t, id, reqB, threshold.DecisionApprove).response(t)
	wantAPIError(t, e.respond(pa.RequestID, answerB), http.StatusUnauthorized, "unauthenticated")
	e.stillPending(pa)
	e.stillPending(pb)

	e.answerHonestly(pa, reqA)
	e.answerHonestly(pb, reqB)
}

package e2e

import (
	"bytes"
	"testing"

	"github.com/assent-dev/assent/store"
)

// Restarting the server with a record pending: its secrets died with the
// first run, so the record expires and its staged blob is removed; sealed
// records still open, with the device's approval, after the restart; the
// device agent reconnects by itself.
func TestRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	data := content(20, recordSize)
	sealed := e.seal("Sealed before the restart", data)
	held := e.upload("Pending at the restart", "storage "+purposeHold, content(21, recordSize))
	if !e.staged(held.RecordID) {
		t.Fatalf("the pending record has no staged blob before the restart")
	}

	e.stop()
	e.start()

	r, err := e.clinic.Record(e.ctx, held.RecordID, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != store.RecordExpired {
		t.Fatalf("after the restart the pending record is %s, want expired", r.State)
	}
	if e.staged(held.RecordID) || e.committed(held.RecordID) {
		t.Fatalf("after the restart the pending record's ciphertext is still stored")
	}
	req, err := e.dev.Client.GetRequest(e.ctx, held.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	if req.State != store.RequestExpired {
		t.Fatalf("after the restart the pending request is %s, want expired", req.State)
	}

	again, err := e.clinic.Record(e.ctx, sealed.RecordID, 0)
	if err != nil || again.State != store.RecordSealed || !bytes.Equal(again.Approval.Statement, sealed.Approval.Statement) {
		t.Fatalf("after the restart the sealed record is %+v (%v), want sealed with its approval", again, err)
	}
	p := e.open(e.clinic, sealed.RecordID, "after the restart", store.SessionOpen)
	e.download(e.clinic, p.SessionID, data)

	audit := e.audit()
	if countEvents(audit, store.EventRecordExpired)[held.RecordID] != 1 || countEvents(audit, store.EventRecordSealed)[held.RecordID] != 0 {
		t.Fatalf("audit chain does not show the pending record expiring once, unsealed")
	}
	if countEvents(audit, store.EventSessionOpened)[p.SessionID] != 1 {
		t.Fatalf("audit chain does not show the session opened after the restart")
	}
}

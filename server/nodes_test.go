package server

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/assent-dev/assent/threshold"
)

// TestTwoNodes: two API nodes share one store. An answer that reaches the
// node without the request's secrets is stored there and acted on by the
// owner; a session is served by the node that opened it.
func TestTwoNodes(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.NodeID = "node-a" })
	cfg := e.cfg
	cfg.NodeID = "node-b"
	b, err := New(cfg, Deps{
		Store: e.st, Blobs: e.blobs, MasterKey: e.mk, Clock: e.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)).With("node", "b"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	tsB := httptest.NewServer(b.Handler())
	defer func() { b.endStreams(); tsB.Close(); b.Close() }()
	onB := func(d *testDevice) *testDevice { c := *d; envB := *e; envB.ts = tsB; c.env = &envB; return &c }

	d := e.userWithDevice(t)
	content := []byte("sealed across nodes")
	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, content) // owned by node-a
	dB := onB(d)
	dB.answer(t, dB.request(t, p.RequestID), threshold.DecisionApprove).want(t, http.StatusOK)
	if r := e.record(t, rid, e.writer, "?wait=10"); r.State != "sealed" {
		t.Fatalf("record %s; node-a did not act on the answer node-b took", r.State)
	}

	// Access asked on node-b: its session lives there.
	envB := *e
	envB.ts = tsB
	a := envB.askAccess(t, rid, e.reader)
	d.answer(t, d.request(t, a.RequestID), threshold.DecisionApprove).want(t, http.StatusOK) // answered on node-a
	if s := envB.session(t, a.SessionID, e.reader, "?wait=10"); s.State != "open" {
		t.Fatalf("session %s", s.State)
	}
	e.do(http.MethodGet, "/v1/sessions/"+a.SessionID+"/content", e.reader, nil).wantError(t, http.StatusConflict, "conflict")
	got := envB.do(http.MethodGet, "/v1/sessions/"+a.SessionID+"/content", e.reader, nil).want(t, http.StatusOK)
	if !bytes.Equal(got.body, content) {
		t.Fatal("content differs")
	}
}

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/openapicheck"
	"github.com/assent-dev/assent/internal/syncbuf"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
)

// Purposes that steer the test policy: a request whose purpose contains
// purposeDeny is denied, one containing purposeHold is never answered (the
// policy fails, so the request waits until it expires); any other is
// approved.
const (
	purposeDeny = "[deny]"
	purposeHold = "[hold]"
)

// errHeld is the test policy's refusal to decide.
var errHeld = errors.New("the user has not decided")

// syncBuffer collects output that many goroutines write while the test reads it.
type syncBuffer = syncbuf.Buffer

// env is one user's world: a server over a data directory, a third party
// (the clinic) holding every scope, the user it created, and the user's
// device, run by the agent with the test policy or driven by hand.
type env struct {
	t      *testing.T
	ctx    context.Context
	cfg    server.Config
	logs   *syncBuffer
	node   *Node
	clinic *ThirdParty
	user   *User
	dev    *Device
	// val checks every exchange of the clinic and the device against the
	// OpenAPI document; the test fails on any mismatch.
	val *openapicheck.Validator

	mu      sync.Mutex
	prompts map[string]*device.Prompt // by request id, what the policy saw
}

// envOptions shape an env.
type envOptions struct {
	config func(*server.Config)
	// manual leaves the device without an agent: the test answers by hand.
	manual bool
}

// testConfig is the base configuration: the sweeper and answer poller run
// often, rate limits are off, TTLs are long unless a test shortens them.
func testConfig(dataDir string) server.Config {
	return server.Config{
		Listen:             "127.0.0.1:0",
		DataDir:            dataDir,
		ApprovalTTL:        time.Minute,
		SessionTTL:         5 * time.Minute,
		SweepInterval:      100 * time.Millisecond,
		AnswerPollInterval: 50 * time.Millisecond,
		UserRate:           -1,
		RequesterRate:      -1,
		UserRequesterRate:  -1,
		EnrollRate:         -1,
		CreateRate:         -1,
		MaxPendingPerUser:  64,
		// The per-requester cap stays below the per-user one, as by default.
		MaxPendingPerRequester: 63,
		ShutdownTimeout:        5 * time.Second,
		LogFormat:              server.LogText,
	}
}

// newEnv starts a server on a fresh data directory, registers the clinic,
// creates a user and enrolls the user's device over HTTP.
func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	e := &env{t: t, ctx: ctx, logs: &syncBuffer{}, prompts: map[string]*device.Prompt{}}
	e.cfg = testConfig(filepath.Join(t.TempDir(), "data"))
	if o.config != nil {
		o.config(&e.cfg)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	var err error
	if e.val, err = openapicheck.New(nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Every env creates a user and enrolls its device through the checker.
		for _, p := range e.val.Problems("createUser", "enroll", "confirmEnrollment") {
			t.Errorf("OpenAPI: %s", p)
		}
	})
	e.start()
	e.clinic, err = NewThirdParty(ctx, e.node, "Clinic", server.AllScopes...)
	if err != nil {
		t.Fatalf("registering the clinic: %v", err)
	}
	e.user, err = e.clinic.CreateUser(ctx, "patient-1", "Pat")
	if err != nil {
		t.Fatalf("creating the user: %v", err)
	}
	var policy device.Policy
	if !o.manual {
		policy = e.policy
	}
	e.dev, err = EnrollDeviceWith(ctx, e.node.URL, e.user.EnrollmentCode, "Pat's phone",
		filepath.Join(t.TempDir(), "device.ledger"), policy, agentOptions(), device.ClientOptions{Transport: device.HTTPTransport(&http.Client{Transport: e.val})})
	if err != nil {
		t.Fatalf("enrolling the device: %v", err)
	}
	t.Cleanup(func() {
		if err := e.dev.Close(); err != nil {
			t.Errorf("closing the device: %v", err)
		}
	})
	return e
}

// agentOptions make the agent reconnect quickly (restarts, outages).
func agentOptions() device.AgentOptions {
	return device.AgentOptions{
		MinBackoff:   20 * time.Millisecond,
		MaxBackoff:   200 * time.Millisecond,
		PollInterval: time.Second,
	}
}

// start starts a node on e.cfg (again, after stop: same data directory,
// same address) and stops it when the test ends.
func (e *env) start() {
	e.t.Helper()
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := StartNode(e.cfg, log)
	if err != nil {
		e.t.Fatalf("starting the server: %v", err)
	}
	n.Transport = e.val
	e.node = n
	e.cfg.Listen = n.Config.Listen // a restart listens on the same address
	e.t.Cleanup(func() {
		if e.node == n {
			e.stop()
		}
	})
}

// stop shuts the running node down.
func (e *env) stop() {
	e.t.Helper()
	if err := e.node.Stop(); err != nil {
		e.t.Errorf("stopping the server: %v", err)
	}
	e.node = nil
}

// policy is the device user: it decides by purpose, and remembers what it
// was shown.
func (e *env) policy(_ context.Context, p *device.Prompt) (device.Decision, error) {
	e.mu.Lock()
	e.prompts[p.RequestID] = p
	e.mu.Unlock()
	switch {
	case strings.Contains(p.Purpose, purposeHold):
		return "", errHeld
	case strings.Contains(p.Purpose, purposeDeny):
		return device.Deny, nil
	}
	return device.Approve, nil
}

// prompt returns what the policy was shown for a request.
func (e *env) prompt(requestID string) *device.Prompt {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.prompts[requestID]
	if p == nil {
		e.t.Fatalf("the device was never asked about %s", requestID)
	}
	return p
}

// content returns n deterministic bytes for a record, different per seed.
func content(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 0xe2, 0xe})
	_, _ = r.Read(b)
	return b
}

// upload creates a record for the env's user and uploads data; purpose
// steers the device.
func (e *env) upload(title, purpose string, data []byte) *Pending {
	e.t.Helper()
	rid, err := e.clinic.CreateRecord(e.ctx, e.user.UserID, title, "application/pdf", purpose)
	if err != nil {
		e.t.Fatalf("creating record %q: %v", title, err)
	}
	p, err := e.clinic.Upload(e.ctx, rid, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		e.t.Fatalf("uploading record %q: %v", title, err)
	}
	if p.RecordID != rid || p.State != store.RecordPendingApproval || p.RequestID == "" {
		e.t.Fatalf("upload answered %+v, want record %s pending approval with a request", p, rid)
	}
	return p
}

// awaitRecord waits for a record to leave pending_approval and checks the
// state it reached.
func (e *env) awaitRecord(tp *ThirdParty, rid, want string) *Record {
	e.t.Helper()
	r, err := tp.AwaitRecord(e.ctx, rid)
	if err != nil {
		e.t.Fatalf("waiting for record %s: %v", rid, err)
	}
	if r.State != want {
		e.t.Fatalf("record %s is %s, want %s", rid, r.State, want)
	}
	return r
}

// seal uploads data as a new record and waits for the device to seal it.
func (e *env) seal(title string, data []byte) *Record {
	e.t.Helper()
	p := e.upload(title, "storage", data)
	return e.awaitRecord(e.clinic, p.RecordID, store.RecordSealed)
}

// open asks tp's access to a record and waits for the session to reach
// want.
func (e *env) open(tp *ThirdParty, rid, purpose, want string) *Pending {
	e.t.Helper()
	p, err := tp.Access(e.ctx, rid, purpose)
	if err != nil {
		e.t.Fatalf("asking access to %s: %v", rid, err)
	}
	if p.SessionID == "" || p.State != store.SessionPendingApproval || p.RequestID == "" {
		e.t.Fatalf("access answered %+v, want a session pending approval with a request", p)
	}
	s, err := tp.AwaitSession(e.ctx, p.SessionID)
	if err != nil {
		e.t.Fatalf("waiting for session %s: %v", p.SessionID, err)
	}
	if s.State != want {
		e.t.Fatalf("session %s is %s, want %s", p.SessionID, s.State, want)
	}
	return p
}

// download downloads a session's content and checks it is data, with the
// approved digest.
func (e *env) download(tp *ThirdParty, sid string, data []byte) {
	e.t.Helper()
	var got bytes.Buffer
	d, err := tp.Download(e.ctx, sid, &got)
	if err != nil {
		e.t.Fatalf("downloading session %s: %v", sid, err)
	}
	sum := sha256.Sum256(data)
	if !bytes.Equal(got.Bytes(), data) || !bytes.Equal(d.SHA256, sum[:]) {
		e.t.Fatalf("downloaded %d bytes (digest %x), want the %d bytes uploaded (digest %x)", got.Len(), d.SHA256, len(data), sum)
	}
}

// audit returns the user's audit chain as the device fetches and verifies
// it.
func (e *env) audit() []*store.AuditEntry {
	e.t.Helper()
	entries, err := e.dev.Client.Audit(e.ctx)
	if err != nil {
		e.t.Fatalf("reading the audit chain: %v", err)
	}
	return entries
}

// countEvents counts the audit events of each subject.
func countEvents(entries []*store.AuditEntry, event string) map[string]int {
	n := map[string]int{}
	for _, a := range entries {
		if a.Event == event {
			n[a.Subject]++
		}
	}
	return n
}

// staged reports whether record rid has a staged blob.
func (e *env) staged(rid string) bool {
	e.t.Helper()
	names, err := e.node.Blobs.StagedBefore(e.ctx, time.Now().Add(time.Hour))
	if err != nil {
		e.t.Fatalf("listing staged blobs: %v", err)
	}
	for _, n := range names {
		if n == rid {
			return true
		}
	}
	return false
}

// committed reports whether record rid has a committed blob.
func (e *env) committed(rid string) bool {
	e.t.Helper()
	b, err := e.node.Blobs.Open(e.ctx, rid)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		e.t.Fatalf("opening the blob of %s: %v", rid, err)
	}
	b.Close()
	return true
}

// wantAPIError checks that err is a refusal with status and code.
func wantAPIError(t *testing.T, err error, status int, code string) *APIError {
	t.Helper()
	var ae *APIError
	var de *device.APIError // from the device library's client
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &de):
		ae = &APIError{Status: de.Status, Code: de.Code, Message: de.Message}
	default:
		t.Fatalf("got %v, want the server to answer %d %s", err, status, code)
	}
	if ae.Status != status || ae.Code != code {
		t.Fatalf("server answered %d %s (%q), want %d %s", ae.Status, ae.Code, ae.Message, status, code)
	}
	return ae
}

package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/syncbuf"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/blobdir"
	"github.com/assent-dev/assent/store/sqlite"
	"github.com/assent-dev/assent/threshold"
)

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// syncBuffer collects output that many goroutines write while the test reads it.
type syncBuffer = syncbuf.Buffer

// testEnv is a real server on loopback over a real SQLite store, blob
// directory and master key in a temporary directory.
type testEnv struct {
	t     testing.TB
	dir   string
	cfg   Config
	clock *testClock
	logs  *syncBuffer
	extra []func(*Deps)

	st    *sqlite.Store
	blobs store.BlobStore
	mk    *threshold.MasterKey
	srv   *Server
	ts    *httptest.Server

	// API keys: admin has users:admin, writer records:write, reader
	// records:access; other has records:access too (another requester).
	admin, writer, reader, other string
}

// testConfig is the base configuration of tests: the sweeper runs only
// when a test calls it, the answer poller often.
func testConfig() Config {
	return Config{
		ApprovalTTL:        10 * time.Minute,
		SessionTTL:         15 * time.Minute,
		SweepInterval:      time.Hour,
		AnswerPollInterval: 20 * time.Millisecond,
		UserRate:           -1,
		RequesterRate:      -1,
		UserRequesterRate:  -1,
		EnrollRate:         -1,
		CreateRate:         -1,
		// Tests of the per-requester cap set their own.
		MaxPendingPerRequester: 16,
		ShutdownTimeout:        5 * time.Second,
	}
}

// newEnv starts a server; mutate adjusts the configuration and deps.
func newEnv(t testing.TB, mutate func(*Config), deps ...func(*Deps)) *testEnv {
	t.Helper()
	e := &testEnv{
		t:     t,
		dir:   t.TempDir(),
		cfg:   testConfig(),
		clock: &testClock{t: time.Now().UTC().Truncate(time.Second)},
		logs:  &syncBuffer{},
		extra: deps,
	}
	if mutate != nil {
		mutate(&e.cfg)
	}
	e.open()
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	e.admin = e.client("admin", ScopeUsersAdmin)
	e.writer = e.client("writer", ScopeRecordsWrite)
	e.reader = e.client("reader", ScopeRecordsAccess)
	e.other = e.client("other", ScopeRecordsAccess)
	return e
}

// open opens the store, blobs and master key in e.dir and starts a server.
func (e *testEnv) open() {
	t := e.t
	t.Helper()
	ctx := context.Background()
	var err error
	if e.st, err = sqlite.Open(ctx, e.dir); err != nil {
		t.Fatal(err)
	}
	if e.blobs, err = blobdir.Open(filepath.Join(e.dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	if e.mk, err = threshold.LoadOrCreateMasterKey(filepath.Join(e.dir, "master.key"), rand.Reader); err != nil {
		t.Fatal(err)
	}
	deps := Deps{
		Store:     e.st,
		Blobs:     e.blobs,
		MasterKey: e.mk,
		Clock:     e.clock.Now,
		Logger:    slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, f := range e.extra {
		f(&deps)
	}
	if e.srv, err = New(e.cfg, deps); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	e.ts = httptest.NewServer(e.srv.Handler())
}

// stop shuts the server down and closes its store, as a process exit would.
func (e *testEnv) stop() {
	if e.ts == nil {
		return
	}
	e.srv.endStreams()
	e.ts.CloseClientConnections()
	e.ts.Close()
	e.srv.Close()
	e.st.Close()
	e.mk.Destroy()
	e.ts = nil
}

// restart stops the server and starts a new one on the same directory.
func (e *testEnv) restart() {
	e.t.Helper()
	e.stop()
	e.open()
}

// client registers a third party and returns its API key.
func (e *testEnv) client(name string, scopes ...string) string {
	e.t.Helper()
	key, _, err := CreateClient(context.Background(), e.st, rand.Reader, e.clock.Now(), name, scopes)
	if err != nil {
		e.t.Fatal(err)
	}
	return key
}

// resp is a finished HTTP exchange.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// decode strictly decodes the body into v: the wire shape must match the
// test's own definition exactly.
func (r *resp) decode(t testing.TB, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// errorCode returns the code of a DESIGN.md error body.
func (r *resp) errorCode(t testing.TB) string {
	t.Helper()
	var body api.ErrorBody
	r.decode(t, &body)
	if body.Error.Message == "" {
		t.Errorf("error body %s has no message", r.body)
	}
	return body.Error.Code
}

// want fails the test unless the status is status.
func (r *resp) want(t testing.TB, status int) *resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	return r
}

// wantError fails the test unless the answer is the error (status, code).
func (r *resp) wantError(t testing.TB, status int, code string) {
	t.Helper()
	r.want(t, status)
	if got := r.errorCode(t); got != code {
		t.Fatalf("error code %q, want %q; body %s", got, code, r.body)
	}
}

// do sends a request with an optional API key and body (a []byte or
// io.Reader is sent raw, anything else as JSON).
func (e *testEnv) do(method, path, key string, body any) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return e.send(req)
}

func (e *testEnv) send(req *http.Request) *resp {
	e.t.Helper()
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL.Path, err)
	}
	return &resp{status: res.StatusCode, header: res.Header, body: b}
}

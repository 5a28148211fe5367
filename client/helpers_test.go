package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/client"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/nodetest"
	"github.com/assent-dev/assent/internal/openapicheck"
	"github.com/assent-dev/assent/server"
)

// world is a real server on loopback over the embedded store, a third
// party's API key, and a way to enroll a real device agent.
type world struct {
	node *nodetest.Node
	key  string
	rec  *recorder
	val  *openapicheck.Validator
	c    *client.Client
}

// startWorld starts a server in a temporary directory and registers a
// third party holding every scope. tb may be nil (Examples): failures then
// panic, which fails the Example.
func startWorld(tb testing.TB, dir string) *world {
	cfg := server.Config{
		Listen:             "127.0.0.1:0",
		DataDir:            filepath.Join(dir, "data"),
		ApprovalTTL:        time.Minute,
		SweepInterval:      100 * time.Millisecond,
		AnswerPollInterval: 50 * time.Millisecond,
		UserRate:           -1,
		RequesterRate:      -1,
		UserRequesterRate:  -1,
		ShutdownTimeout:    5 * time.Second,
		LogFormat:          server.LogText,
	}
	n, err := nodetest.StartNode(cfg, slog.New(slog.DiscardHandler))
	check(tb, err)
	ctx := context.Background()
	key, _, err := server.CreateClient(ctx, n.Store, rand.Reader, time.Now(), "Clinic", server.AllScopes)
	check(tb, err)
	val, err := openapicheck.New(nil)
	check(tb, err)
	w := &world{node: n, key: key, val: val}
	w.rec = &recorder{next: w.val}
	w.c, err = client.New(n.URL, w.key, &client.Options{HTTPClient: &http.Client{Transport: w.rec}})
	check(tb, err)
	return w
}

// enroll enrolls an agent that approves every request, running until stop.
func (w *world) enroll(tb testing.TB, dir, code string) (stop func()) {
	stop, _ = w.enrollKeyed(tb, dir, code)
	return stop
}

// enrollKeyed is enroll that also returns the device's key fingerprint
// (device_key_id), as the phone shows it to its user.
func (w *world) enrollKeyed(tb testing.TB, dir, code string) (stop func(), keyID string) {
	approve := func(context.Context, *device.Prompt) (device.Decision, error) { return device.Approve, nil }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := nodetest.EnrollDeviceWith(ctx, w.node.URL, code, "phone", filepath.Join(dir, "ledger"), approve, device.AgentOptions{},
		device.ClientOptions{Transport: device.HTTPTransport(&http.Client{Transport: w.val})})
	check(tb, err)
	return func() { _ = d.Close() }, d.Identity.DeviceKeyID
}

func (w *world) stop() { _ = w.node.Stop() }

func check(tb testing.TB, err error) {
	if err == nil {
		return
	}
	if tb == nil {
		panic(err)
	}
	tb.Helper()
	tb.Fatal(err)
}

// exchange is one request and its answer as the recorder saw them.
type exchange struct {
	method, path, query string
	reqBody             []byte
	status              int
	header              http.Header
	body                []byte // JSON answers only
}

// recorder is an http.RoundTripper that keeps every JSON exchange.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	log  []exchange
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.Header.Get("Content-Type") == "application/json" {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	x := exchange{method: req.Method, path: req.URL.Path, query: req.URL.RawQuery, reqBody: reqBody, status: resp.StatusCode, header: resp.Header.Clone()}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		x.body = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	r.mu.Lock()
	r.log = append(r.log, x)
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) exchanges() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exchange(nil), r.log...)
}

package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/testcert"
	"github.com/assent-dev/assent/threshold"
)

// TestShutdownEndsPending: a shutdown says how many pending requests it
// ended, ends them in the store at once, and a re-upload of the expired
// record is told to create a new record.
func TestShutdownEndsPending(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	e.upload(t, rid, []byte("lost in a restart"))
	e.restart()
	if !strings.Contains(e.logs.String(), `"msg":"shutdown ended pending requests: their secrets live in this process only","ended":1`) {
		t.Errorf("the shutdown did not say it ended 1 request:\n%s", e.logs.String())
	}
	if r := e.record(t, rid, e.writer, ""); r.State != "expired" {
		t.Fatalf("record is %s after the restart", r.State)
	}
	r := e.do(http.MethodPut, "/v1/records/"+rid+"/content", e.writer, []byte("again"))
	r.wantError(t, http.StatusConflict, "conflict")
	if !strings.Contains(string(r.body), "create a new record") {
		t.Errorf("409 does not say to create a new record: %s", r.body)
	}
}

// TestStartEndsLeftovers: a node started after a crash of its earlier run
// (which could not end its requests) says how many it ended.
func TestStartEndsLeftovers(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	e.upload(t, rid, []byte("crash"))
	// A new run of the same node on the same store, while the old one
	// never shut down (a crash).
	logs := &syncBuffer{}
	srv, err := New(e.cfg, Deps{Store: e.st, Blobs: e.blobs, MasterKey: e.mk, Clock: e.clock.Now,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), `"ended":1`) {
		t.Errorf("the start did not say it ended 1 request:\n%s", logs.String())
	}
	if r := e.record(t, rid, e.writer, ""); r.State != "expired" {
		t.Fatalf("record is %s", r.State)
	}
}

// TestDrainProcessesAnswersInFlight: an answer that reached another node
// before the owner began shutting down is processed by the owner's
// graceful shutdown (within DrainTimeout), not lost with its secrets.
func TestDrainProcessesAnswersInFlight(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	// The owner: a node whose poller would not get to the answer before it
	// stops; only its drain can.
	addr, stop, served := serveNode(t, e, func(c *Config) { c.AnswerPollInterval = time.Hour })
	rid := e.createRecord(t, d.userID)
	req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/v1/records/"+rid+"/content", bytes.NewReader([]byte("sealed in the drain")))
	req.Header.Set("Authorization", "Bearer "+e.writer)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("upload to the owner: %v %v", res, err)
	}
	res.Body.Close()
	q := d.pending(t)[0]
	d.answer(t, q, threshold.DecisionApprove).want(t, http.StatusOK) // reaches node-1, stored for node-2
	stop()
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	if r := e.record(t, rid, e.writer, ""); r.State != "sealed" {
		t.Fatalf("record is %s after the owner's graceful shutdown, want sealed", r.State)
	}
}

// TestTLSReload: ReloadTLS (what SIGHUP calls in `assent serve`) makes new
// connections get the new certificate, keeps pending work, and a failed
// reload keeps the certificate in use.
func TestTLSReload(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := testcert.Write(t, certFile, keyFile, "first")
	srv, addr, _, _ := serveNodeServer(t, e, func(c *Config) { c.TLSCert, c.TLSKey = certFile, keyFile })
	if !bytes.Equal(testcert.Served(t, addr), first) {
		t.Fatal("the server does not present its certificate")
	}

	// Pending work on the TLS node.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	rid := e.createRecord(t, d.userID)
	req, _ := http.NewRequest(http.MethodPut, "https://"+addr+"/v1/records/"+rid+"/content", strings.NewReader("over TLS"))
	req.Header.Set("Authorization", "Bearer "+e.writer)
	res, err := client.Do(req)
	if err != nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("upload over TLS: %v %v", res, err)
	}
	res.Body.Close()

	second := testcert.Write(t, certFile, keyFile, "second")
	if err := srv.ReloadTLS(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(testcert.Served(t, addr), second) {
		t.Fatal("a new connection after the reload got the old certificate")
	}
	if srv.pending.len() != 1 {
		t.Fatal("the reload dropped pending work")
	}
	os.WriteFile(certFile, []byte("not a certificate"), 0o600)
	if err := srv.ReloadTLS(); err == nil {
		t.Fatal("a broken certificate file was loaded")
	}
	if !bytes.Equal(testcert.Served(t, addr), second) {
		t.Fatal("a failed reload dropped the certificate in use")
	}
	// The request made before the reload is answered and sealed there.
	d.answer(t, d.pending(t)[0], threshold.DecisionApprove).want(t, http.StatusOK)
	waitFor(t, func() bool { return e.record(t, rid, e.writer, "").State == "sealed" }, "the record sealed")
}

// TestPlainHTTPWarning: serving without TLS on a non-loopback address logs
// a warning at start; on loopback it does not.
func TestPlainHTTPWarning(t *testing.T) {
	e := newEnv(t, nil)
	for _, tc := range []struct {
		listen string
		warn   bool
	}{{"127.0.0.1:0", false}, {"0.0.0.0:0", true}} {
		logs := &syncBuffer{}
		cfg := e.cfg
		cfg.NodeID = "node-" + strings.TrimSuffix(strings.ReplaceAll(tc.listen, ".", ""), ":0")
		srv, err := New(cfg, Deps{Store: e.st, Blobs: e.blobs, MasterKey: e.mk, Clock: e.clock.Now,
			Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", tc.listen)
		if err != nil {
			t.Skipf("cannot listen on %s here: %v", tc.listen, err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ctx, ln) }()
		waitFor(t, func() bool { return strings.Contains(logs.String(), "start:") }, "the start")
		cancel()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(logs.String(), "plain HTTP on a non-loopback address"); got != tc.warn {
			t.Errorf("listen %s: warning %v, want %v", tc.listen, got, tc.warn)
		}
	}
}

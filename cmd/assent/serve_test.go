package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/syncbuf"
	"github.com/assent-dev/assent/store"
)

func TestServeConfigPrecedence(t *testing.T) {
	t.Setenv("ASSENT_APPROVAL_TTL", "2m")
	t.Setenv("ASSENT_NODE_ID", "from-env")
	cfg, err := serveConfig([]string{"-approval-ttl", "3m"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ApprovalTTL != 3*time.Minute {
		t.Errorf("flag lost to the environment: %s", cfg.ApprovalTTL)
	}
	if cfg.NodeID != "from-env" {
		t.Errorf("environment lost to the default: %s", cfg.NodeID)
	}
	if cfg.SessionTTL != 15*time.Minute || cfg.DataDir != "./assent-data" || cfg.BlobDir != filepath.Join("assent-data", "blobs") {
		t.Errorf("defaults %+v", cfg)
	}

	t.Setenv("ASSENT_SESSION_TTL", "soon")
	if _, err := serveConfig(nil, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("bad environment value: %v, want a usage error", err)
	}
	t.Setenv("ASSENT_SESSION_TTL", "")
	for _, args := range [][]string{{"-approval-ttl", "1ms"}, {"-store", "oracle"}, {"-tls-cert", "c.pem"}, {"extra"}, {"-nope"}} {
		if _, err := serveConfig(args, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("serveConfig(%q): %v, want a usage error", args, err)
		}
	}
	var help bytes.Buffer
	serveConfig([]string{"-h"}, &help)
	for _, want := range []string{"-listen", "$ASSENT_LISTEN", "-webhook-secret", "$ASSENT_WEBHOOK_SECRET", "-max-upload"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("-h does not mention %s", want)
		}
	}
}

func TestServeAndAdmin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"-listen", "127.0.0.1:0", "-data-dir", dir, "-log-format", "text"}, pw, &stderr)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no start line: %v (%s)", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	url := strings.Fields(strings.TrimPrefix(line, "assent: serving on "))[0]
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("start line %q", line)
	}
	res, err := http.Get(url + "/readyz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %v %v", res, err)
	}
	res.Body.Close()
	if fi, err := os.Stat(filepath.Join(dir, "master.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key: %v %v", fi, err)
	}

	// A client made while the server runs on the same directory works at
	// once.
	var out, errOut bytes.Buffer
	if err := runAdmin(ctx, []string{"client", "create", "--data-dir", dir, "--name", "Clinic", "--scopes", "users:admin"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var key string
	for l := range strings.Lines(out.String()) {
		if k, ok := strings.CutPrefix(strings.TrimSpace(l), "api_key: "); ok {
			key = k
		}
	}
	if !strings.HasPrefix(key, "assent_") || strings.Contains(errOut.String(), key) {
		t.Fatalf("admin output %q / %q", out.String(), errOut.String())
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/users", strings.NewReader(`{"external_id":"p1","display_name":"P"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("create user with the new key: %v %v", res, err)
	}
	res.Body.Close()

	// The client is listed (without its key), and once revoked its key is
	// refused on the next call while the server keeps running.
	out.Reset()
	if err := runAdmin(ctx, []string{"client", "list", "--data-dir", dir}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var clientID string
	for l := range strings.Lines(out.String()) {
		if f := strings.Fields(l); len(f) == 4 && f[1] == "Clinic" && f[2] == "users:admin" {
			clientID = f[0]
		}
	}
	if !strings.HasPrefix(clientID, "cli_") || strings.Contains(out.String(), key[20:]) {
		t.Fatalf("admin client list printed %q", out.String())
	}
	if err := runAdmin(ctx, []string{"client", "revoke", "--data-dir", dir}, io.Discard, io.Discard); !errors.Is(err, errUsage) {
		t.Fatalf("revoke without an id: %v", err)
	}
	if err := runAdmin(ctx, []string{"client", "revoke", "--data-dir", dir, clientID}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := runAdmin(ctx, []string{"client", "revoke", "--data-dir", dir, clientID}, io.Discard, io.Discard); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoking twice: %v, want not found", err)
	}
	req, _ = http.NewRequest(http.MethodPost, url+"/v1/users", strings.NewReader(`{"external_id":"p2","display_name":"P"}`))
	req.Header.Set("Authorization", "Bearer "+key)
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("create user with the revoked key: %v %v", res, err)
	}
	res.Body.Close()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if strings.Contains(stderr.String(), key[20:]) {
		t.Error("the API key reached the server log")
	}
}

// syncBuffer collects output that many goroutines write while the test reads it.
type syncBuffer = syncbuf.Buffer

func TestAdminUsage(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		nil,
		{"client"},
		{"user", "create"},
		{"client", "create", "--data-dir", dir, "--scopes", "users:admin"},
		{"client", "create", "--data-dir", dir, "--name", "x", "--scopes", "root"},
		{"client", "create", "--data-dir", dir, "--name", "x"},
		{"client", "create", "--data-dir", dir, "--name", "x", "--scopes", "users:admin", "extra"},
	} {
		if err := runAdmin(t.Context(), args, io.Discard, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("admin %q: %v, want a usage error", args, err)
		}
	}
	err := runAdmin(t.Context(), []string{"client", "create", "--data-dir", filepath.Join(dir, "missing"), "--name", "x", "--scopes", "users:admin"}, io.Discard, io.Discard)
	if err == nil || errors.Is(err, errUsage) {
		t.Errorf("missing data directory: %v", err)
	}
}

// TestServeMetrics: --metrics-listen serves the metrics on their own
// listener, not on the API's; /healthz names the version.
func TestServeMetrics(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"-listen", "127.0.0.1:0", "-metrics-listen", "127.0.0.1:0", "-data-dir", dir}, pw, io.Discard)
		pw.Close()
	}()
	defer func() {
		cancel()
		<-done
	}()
	br := bufio.NewReader(pr)
	var metricsURL, apiURL string
	for metricsURL == "" || apiURL == "" {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("start lines: %v", err)
		}
		if u, ok := strings.CutPrefix(line, "assent: metrics on "); ok {
			metricsURL = strings.TrimSpace(u)
		}
		if u, ok := strings.CutPrefix(line, "assent: serving on "); ok {
			apiURL = strings.Fields(u)[0]
		}
	}
	go io.Copy(io.Discard, br)
	res, err := http.Get(apiURL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), `"version":"`) {
		t.Errorf("healthz %s has no version", body)
	}
	res, err = http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `assent_http_requests_total{method="GET",route="/healthz",status="200"} 1`) {
		t.Fatalf("metrics %d:\n%.2000s", res.StatusCode, body)
	}
	if res, err := http.Get(apiURL + "/metrics"); err != nil || res.StatusCode != http.StatusNotFound {
		t.Fatalf("the API listener serves /metrics: %v %v", res, err)
	}
}

func TestServeSizeFlag(t *testing.T) {
	for in, want := range map[string]int64{"256MiB": 256 << 20, "1GiB": 1 << 30, "1000": 1000, "10MB": 10e6} {
		cfg, err := serveConfig([]string{"-max-upload", in}, io.Discard)
		if err != nil || cfg.MaxUploadSize != want {
			t.Errorf("-max-upload %s: %d, %v; want %d", in, cfg.MaxUploadSize, err, want)
		}
	}
	var help bytes.Buffer
	serveConfig([]string{"-h"}, &help)
	if !strings.Contains(help.String(), "(default 256MiB)") {
		t.Errorf("-h does not show the default upload cap with its unit:\n%s", help.String())
	}
	t.Setenv("ASSENT_MAX_UPLOAD", "2MiB")
	if cfg, err := serveConfig(nil, io.Discard); err != nil || cfg.MaxUploadSize != 2<<20 {
		t.Errorf("$ASSENT_MAX_UPLOAD=2MiB: %d, %v", cfg.MaxUploadSize, err)
	}
	for _, bad := range []string{"256 MeB", "-1", "0", "1.5GiB", "MiB"} {
		if _, err := serveConfig([]string{"-max-upload", bad}, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("-max-upload %q: %v, want a usage error", bad, err)
		}
	}
	// A mistyped flag: the error and one line, not the whole list.
	var errOut bytes.Buffer
	if code := run([]string{"serve", "-lisen", ":1"}, io.Discard, &errOut); code != 2 || strings.Count(errOut.String(), "\n") != 1 ||
		!strings.Contains(errOut.String(), "-lisen") || !strings.Contains(errOut.String(), "assent serve -h") {
		t.Errorf("mistyped flag: exit %d, stderr %q", code, errOut.String())
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"--version"}, &out, io.Discard); code != 0 || !strings.HasPrefix(out.String(), "assent ") {
		t.Fatalf("--version: %d %q", code, out.String())
	}
	if err := runVersion(t.Context(), []string{"extra"}, io.Discard, io.Discard); !errors.Is(err, errUsage) {
		t.Fatalf("version extra: %v", err)
	}
}

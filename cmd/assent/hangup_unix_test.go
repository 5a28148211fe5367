//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/testcert"
)

// TestServeReloadsTLSOnHangup: `assent serve` with --tls-cert/--tls-key
// takes a renewed certificate on SIGHUP, without a restart.
func TestServeReloadsTLSOnHangup(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := testcert.Write(t, certFile, keyFile, "first")
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runServe(ctx, []string{"-listen", "127.0.0.1:0", "-data-dir", filepath.Join(dir, "data"),
			"-tls-cert", certFile, "-tls-key", keyFile, "-log-format", "text"}, pw, &stderr)
		pw.Close()
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no start line: %v (%s)", err, stderr.String())
	}
	go io.Copy(io.Discard, pr)
	url := strings.Fields(strings.TrimPrefix(line, "assent: serving on "))[0]
	addr, ok := strings.CutPrefix(url, "https://")
	if !ok {
		t.Fatalf("start line %q", line)
	}
	// The listener is open before the start line: the handshake waits for
	// Serve.
	if !bytes.Equal(testcert.Served(t, addr), first) {
		t.Fatal("the server does not present its certificate")
	}
	second := testcert.Write(t, certFile, keyFile, "second")
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !bytes.Equal(testcert.Served(t, addr), second) {
		if time.Now().After(deadline) {
			t.Fatalf("the certificate was not reloaded on SIGHUP:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/postgres/pgtest"
	"github.com/assent-dev/assent/threshold"
)

// writeMasterKey makes a master key file at path, as an operator does once
// before starting the nodes of a shared store.
func writeMasterKey(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, randomBytes(t, threshold.KeySize), 0o600); err != nil {
		t.Fatal(err)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMultiNodePostgres runs the hand-off with two `assent serve` processes
// on one PostgreSQL database (a fresh schema of the test server) and the
// ciphertext in it, configured as the issue names it: --store postgres with
// --postgres-url, or $ASSENT_POSTGRES_URL. Unlike FerretDB, PostgreSQL's
// conditional updates are atomic, so the concurrent answers run here too.
func TestMultiNodePostgres(t *testing.T) {
	url := pgtest.Schema(t)
	// Two hosts: each its own data directory, sharing only the database
	// and the master key, which the operator made and copied.
	tmp := t.TempDir()
	key := filepath.Join(tmp, "master.key")
	dataA, dataB := filepath.Join(tmp, "host-a"), filepath.Join(tmp, "host-b")

	t.Run("no master key", func(t *testing.T) {
		// A node of a shared store never makes the key: it would wrap
		// shares under a key its peers lack.
		out, err := exec.Command(assentBinary(t), "serve", "--listen", "127.0.0.1:0", "--store", "postgres",
			"--postgres-url", url, "--data-dir", dataA, "--master-key", key).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "never made on start") {
			t.Fatalf("serve without a master key on postgres: %v\n%s", err, out)
		}
		if _, err := os.Stat(key); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the node made a master key: %v", err)
		}
		if strings.Contains(string(out), "search_path") {
			t.Errorf("the error quotes the store URL:\n%s", out)
		}
	})
	writeMasterKey(t, key)

	a := startNode(t, "node-a", []string{"ASSENT_POSTGRES_URL=" + url}, "--store", "postgres", "--data-dir", dataA, "--master-key", key)
	b := startNode(t, "node-b", nil, "--store", "postgres", "--postgres-url", url, "--data-dir", dataB, "--master-key", key)
	tp := newThirdParty(t, []string{"ASSENT_STORE=postgres", "ASSENT_POSTGRES_URL=" + url})

	ph, _ := handOff(t, a, b, tp)
	t.Run("concurrent answers", func(t *testing.T) { concurrentAnswers(t, ph.on(t), tp.on(t), a, b) })
	t.Run("deny on the other node", func(t *testing.T) {
		ph, tp := ph.on(t), tp.on(t)
		up := tp.upload(b.url, ph.id.UserID, []byte("unwanted"))
		resp := ph.answer(a.url, up.RequestID, threshold.DecisionDeny)
		if state, status := ph.respond(a.url, up.RequestID, resp); status != http.StatusOK || state != "denied" {
			t.Fatalf("deny through node-a: %d %s", status, state)
		}
		if r := tp.record(b.url, up.RecordID); r.State != "rejected" {
			t.Fatalf("record %s after a deny, want rejected", r.State)
		}
		ph.wantEvents(map[string]int{
			store.EventDenied + " " + up.RequestID:        1,
			store.EventRecordRejected + " " + up.RecordID: 1,
			store.EventRecordSealed + " " + up.RecordID:   0,
		}, a.url, b.url)
	})

	t.Run("revoked device refused by both", func(t *testing.T) {
		ph := ph.on(t)
		// The phone revokes itself through node-a; node-b, reading the same
		// database, refuses its signed calls at once too.
		if err := ph.client(a.url, ph.id).Revoke(t.Context(), ph.id.DeviceID); err != nil {
			t.Fatalf("revoke through node-a: %v", err)
		}
		for _, n := range []*assentNode{a, b} {
			_, err := ph.client(n.url, ph.id).PendingRequests(t.Context())
			var ae *device.APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
				t.Errorf("signed call of the revoked device through %s: %v, want 401", n.id, err)
			}
		}
	})

	for _, dir := range []string{dataA, dataB} {
		if entries, err := os.ReadDir(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a node on PostgreSQL wrote to its data directory (%v, %v): no SQLite file, no blob directory expected", entries, err)
		}
	}
}

// TestServePostgresOutage: PostgreSQL goes away under a running `assent
// serve` (a proxy between them is cut): every call answers 503 within a
// bound instead of hanging; once it is back, the node serves again without
// a restart, and the record sealed before the outage opens.
func TestServePostgresOutage(t *testing.T) {
	url := pgtest.Schema(t)
	proxy := pgtest.NewProxy(t)
	key := filepath.Join(t.TempDir(), "master.key")
	writeMasterKey(t, key)
	a := startNode(t, "node-a", []string{"ASSENT_POSTGRES_URL=" + proxy.URL(url)}, "--store", "postgres",
		"--data-dir", filepath.Join(t.TempDir(), "data"), "--master-key", key)
	tp := newThirdParty(t, []string{"ASSENT_STORE=postgres", "ASSENT_POSTGRES_URL=" + url})
	user := tp.newUser(a.url)
	ph := enroll(t, a.url, user.EnrollmentCode)
	content := []byte("sealed before the outage")
	up := tp.upload(a.url, user.UserID, content)
	ph.handle(a.url, up.RequestID)
	if r := tp.record(a.url, up.RecordID); r.State != "sealed" {
		t.Fatalf("record %s, want sealed", r.State)
	}

	proxy.Cut()
	const bound = 20 * time.Second
	for what, call := range map[string]func() reply{
		"GET record": func() reply { return tp.do(http.MethodGet, a.url+"/v1/records/"+up.RecordID, nil) },
		"POST users": func() reply {
			return tp.do(http.MethodPost, a.url+"/v1/users", map[string]string{"external_id": "during-outage", "display_name": "B"})
		},
		"POST access": func() reply {
			return tp.do(http.MethodPost, a.url+"/v1/records/"+up.RecordID+"/access", map[string]string{"purpose": "x"})
		},
	} {
		start := time.Now()
		call().wantError(t, http.StatusServiceUnavailable, "unavailable")
		if took := time.Since(start); took > bound {
			t.Errorf("%s during the outage took %v, over %v", what, took, bound)
		}
	}

	proxy.Restore()
	deadline := time.Now().Add(bound)
	for tp.do(http.MethodGet, a.url+"/v1/records/"+up.RecordID, nil).status != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("the node does not serve again %v after PostgreSQL came back", bound)
		}
		time.Sleep(100 * time.Millisecond)
	}
	acc := tp.askAccess(a.url, up.RecordID)
	ph.handle(a.url, acc.RequestID)
	if s := tp.session(a.url, acc.SessionID); s.State != "open" {
		t.Fatalf("session %s after the outage, want open", s.State)
	}
	got := tp.do(http.MethodGet, a.url+"/v1/sessions/"+acc.SessionID+"/content", nil)
	if !bytes.Equal(got.want(t, http.StatusOK), content) {
		t.Fatalf("content after the outage differs: %q", got.body)
	}
}

// TestServePostgresFlags: the PostgreSQL URL answers to -postgres-url and
// $ASSENT_POSTGRES_URL (a flag over the variable), the blob store defaults
// to PostgreSQL's, a wrong pairing is a usage error, and the URL is never
// echoed.
func TestServePostgresFlags(t *testing.T) {
	const url = "postgres://assent:s3cret@db.example/assent"
	for _, env := range []string{"ASSENT_STORE_URI", "ASSENT_MONGODB_URI", "ASSENT_POSTGRES_URL", "ASSENT_STORE", "ASSENT_BLOBS"} {
		t.Setenv(env, "")
		os.Unsetenv(env)
	}
	cfg, err := serveConfig([]string{"--store", "postgres", "--postgres-url", url}, io.Discard)
	if err != nil || cfg.StoreURI != url || cfg.Blobs != server.BlobsPostgres {
		t.Fatalf("flags: %v %q blobs %q", err, cfg.StoreURI, cfg.Blobs)
	}
	t.Setenv("ASSENT_POSTGRES_URL", url)
	cfg, err = serveConfig([]string{"--store", "postgres", "--blobs", "dir"}, io.Discard)
	if err != nil || cfg.StoreURI != url || cfg.Blobs != server.BlobsDir {
		t.Fatalf("environment and -blobs dir: %v %q %q", err, cfg.StoreURI, cfg.Blobs)
	}
	cfg, err = serveConfig([]string{"--store", "postgres", "--postgres-url", "postgres://other/db"}, io.Discard)
	if err != nil || cfg.StoreURI != "postgres://other/db" {
		t.Fatalf("a flag must win over the variable: %v %q", err, cfg.StoreURI)
	}
	for _, args := range [][]string{
		nil, // a URL, but the SQLite store
		{"--store", "postgres", "--blobs", "gridfs"},
		{"--store", "sqlite", "--blobs", "postgres"},
	} {
		if _, err := serveConfig(args, io.Discard); !errors.Is(err, errUsage) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("serve %q: %v, want a usage error without the URL", args, err)
		}
	}
	os.Unsetenv("ASSENT_POSTGRES_URL")
	if _, err := serveConfig([]string{"--store", "postgres"}, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("--store postgres without a URL: %v, want a usage error", err)
	}
	var help bytes.Buffer
	serveConfig([]string{"-h"}, &help)
	for _, want := range []string{"-postgres-url", "$ASSENT_POSTGRES_URL", "postgres"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("serve -h does not mention %s", want)
		}
	}
}

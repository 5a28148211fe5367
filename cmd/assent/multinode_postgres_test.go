package main

import (
	"crypto/rand"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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

	for _, dir := range []string{dataA, dataB} {
		if entries, err := os.ReadDir(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a node on PostgreSQL wrote to its data directory (%v, %v): no SQLite file, no blob directory expected", entries, err)
		}
	}
}

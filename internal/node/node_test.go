package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
)

// TestNodeServes: a node on the embedded store makes its master key, serves
// on a loopback port until Stop, and another node then opens the same data.
func TestNodeServes(t *testing.T) {
	dir := t.TempDir()
	cfg := server.Config{Listen: "127.0.0.1:0", DataDir: dir}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	wrapped := 0
	for round := range 2 {
		n, err := Open(t.Context(), cfg, Options{Logger: log, WebPush: true,
			WrapStore: func(st store.Store) store.Store { wrapped++; return st }})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(n.URL + api.PathHealthz)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("round %d: healthz %d", round, resp.StatusCode)
		}
		if err := n.Stop(); err != nil {
			t.Fatalf("round %d: stop: %v", round, err)
		}
		if err := n.Close(); err != nil {
			t.Fatalf("round %d: second close: %v", round, err)
		}
	}
	if wrapped != 2 {
		t.Errorf("WrapStore called %d times, want 2", wrapped)
	}
	for _, f := range []string{"master.key", "vapid.key"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestNodeRefusesConfig: a configuration that cannot be served is
// ErrConfig, and nothing stays open (the data directory can be removed and
// opened again).
func TestNodeRefusesConfig(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range map[string]server.Config{
		"gridfs on sqlite": {DataDir: dir, Blobs: server.BlobsGridFS},
		"postgres blobs":   {DataDir: dir, Blobs: server.BlobsPostgres},
		"unknown store":    {DataDir: dir, Store: "oracle"},
	} {
		_, err := Open(t.Context(), cfg, Options{})
		if err == nil {
			t.Errorf("%s: opened", name)
			continue
		}
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

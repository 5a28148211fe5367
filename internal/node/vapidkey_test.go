package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
)

// noSubscriptions is a push.Subscriptions without any.
type noSubscriptions struct{}

func (noSubscriptions) PushSubscriptions(context.Context, string) ([]*store.PushSubscription, error) {
	return nil, nil
}

func (noSubscriptions) DeletePushSubscription(context.Context, string, string) error {
	return store.ErrNotFound
}

// TestVAPIDKeyRules: the embedded store makes the VAPID key (0600) on first
// start and keeps it; a shared store never makes it and then sends no Web
// Push, but uses a given one; a key open to group or others is refused.
func TestVAPIDKeyRules(t *testing.T) {
	var st noSubscriptions
	path := filepath.Join(t.TempDir(), "vapid.key")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for _, kind := range []string{server.StoreMongoDB, server.StorePostgres} {
		cfg := server.Config{Store: kind, VAPIDKeyPath: path}.WithDefaults()
		wp, err := newWebPush(cfg, st, log)
		if err != nil || wp != nil {
			t.Fatalf("store %s without a key: %v, %v; want Web Push off", kind, wp, err)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("store %s made a VAPID key", kind)
		}
	}
	if !strings.Contains(logs.String(), "--vapid-key") {
		t.Fatalf("log %q does not say how to turn Web Push on", logs.String())
	}
	wp, err := newWebPush(server.Config{Store: server.StoreSQLite, VAPIDKeyPath: path}.WithDefaults(), st, log)
	if err != nil || wp == nil {
		t.Fatalf("embedded store: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("VAPID key file: %v", err)
	}
	shared, err := newWebPush(server.Config{Store: server.StorePostgres, VAPIDKeyPath: path}.WithDefaults(), st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || shared == nil || !bytes.Equal(shared.PublicKey(), wp.PublicKey()) {
		t.Fatalf("shared store with the key file: %v", err)
	}
	os.Chmod(path, 0o644)
	if _, err := newWebPush(server.Config{Store: server.StoreSQLite, VAPIDKeyPath: path}.WithDefaults(), st, log); !errors.Is(err, ErrConfig) {
		t.Fatalf("world-readable key: %v, want ErrConfig", err)
	}
}

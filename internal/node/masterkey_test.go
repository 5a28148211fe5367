package node

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-dev/assent/server"
)

// TestSharedStoreNeverMakesMasterKey: with a shared store the master key
// must exist (the error names --master-key and nothing is written); with
// the embedded store it is made on first start.
func TestSharedStoreNeverMakesMasterKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	for _, kind := range []string{server.StoreMongoDB, "postgres"} {
		cfg := server.Config{Store: kind, MasterKeyPath: path}
		_, err := loadMasterKey(cfg)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "--master-key") {
			t.Fatalf("store %s without a key file: %v", kind, err)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("store %s made a master key", kind)
		}
	}
	mk, err := loadMasterKey(server.Config{Store: server.StoreSQLite, MasterKeyPath: path})
	if err != nil {
		t.Fatal(err)
	}
	id := mk.ID()
	mk.Destroy()
	mk, err = loadMasterKey(server.Config{Store: server.StoreMongoDB, MasterKeyPath: path})
	if err != nil {
		t.Fatalf("store mongodb with the key file: %v", err)
	}
	defer mk.Destroy()
	if mk.ID() != id {
		t.Fatal("another key was loaded")
	}
}

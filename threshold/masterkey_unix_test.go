//go:build unix

package threshold

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A FIFO in place of the key is refused, not opened (which would block).
func TestMasterKeyRefusesFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatalf("making a FIFO: %v", err)
	}
	_, err := LoadOrCreateMasterKey(path, testRand("x"))
	if !errors.Is(err, ErrMasterKey) || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("FIFO as master key: %v", err)
	}
}

package push

import (
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/internal/securefile"
)

// VAPIDKeySize is the size of a VAPID key file: the raw P-256 private
// scalar (RFC 8292 keys are ECDSA P-256).
const VAPIDKeySize = 32

// ErrVAPIDKey is returned by LoadVAPIDKey and LoadOrCreateVAPIDKey for a
// key file that is missing (also wrapping fs.ErrNotExist), open to group or
// others, of the wrong size, or not a P-256 scalar. The error names the
// path, never the key.
var ErrVAPIDKey = errors.New("push: VAPID key file")

// VAPIDKey is the server's application server key (RFC 8292): it signs the
// JWT of every Web Push request, and browsers bind each subscription to its
// public half (applicationServerKey), so a push service refuses messages
// signed by anyone else.
type VAPIDKey struct {
	priv *ecdh.PrivateKey
}

// PublicKey returns the 65-byte uncompressed P-256 public key that devices
// pass as applicationServerKey.
func (k *VAPIDKey) PublicKey() []byte { return k.priv.PublicKey().Bytes() }

// LoadVAPIDKey reads the key file at path: exactly VAPIDKeySize bytes,
// a regular file with no permission for group or others.
func LoadVAPIDKey(path string) (*VAPIDKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVAPIDKey, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrVAPIDKey, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %#o, open to group or others; run chmod 600 %s", ErrVAPIDKey, path, perm, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVAPIDKey, err)
	}
	defer f.Close()
	// One byte more than a key, to see a longer file.
	buf := make([]byte, VAPIDKeySize+1)
	defer secret.Clear(buf)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrVAPIDKey, path, err)
	}
	if n != VAPIDKeySize {
		return nil, fmt.Errorf("%w: %s is not %d bytes", ErrVAPIDKey, path, VAPIDKeySize)
	}
	priv, err := ecdh.P256().NewPrivateKey(buf[:VAPIDKeySize])
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not hold a P-256 private key", ErrVAPIDKey, path)
	}
	return &VAPIDKey{priv: priv}, nil
}

// LoadOrCreateVAPIDKey loads the key file at path, first making it (a new
// key, mode 0600, with securefile.WriteNew) if it does not exist. Of
// processes starting at once, one makes the file and all use it; an
// existing file is never overwritten. Only a node of an embedded store
// calls it: nodes sharing a store must share one key (subscriptions are
// bound to it), so theirs is given.
func LoadOrCreateVAPIDKey(path string) (*VAPIDKey, error) {
	k, err := LoadVAPIDKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	priv, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVAPIDKey, err)
	}
	raw := priv.Bytes()
	defer secret.Clear(raw)
	if err := securefile.WriteNew(path, raw); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %w", ErrVAPIDKey, err)
	}
	return LoadVAPIDKey(path)
}

package threshold

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/internal/securefile"
	"github.com/assent-dev/assent/oprf"
)

// MasterKey is the server master key: it wraps every user's server share at
// rest. Its methods are safe for concurrent use, except Destroy.
type MasterKey struct {
	key []byte
}

// NewMasterKey returns a MasterKey holding a copy of key, which must be 32
// bytes and not all zero (ErrMasterKey). The caller clears its own copy.
func NewMasterKey(key []byte) (*MasterKey, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: key is %d bytes, want %d", ErrMasterKey, len(key), KeySize)
	}
	if subtle.ConstantTimeCompare(key, make([]byte, KeySize)) == 1 {
		return nil, fmt.Errorf("%w: key is all zeros", ErrMasterKey)
	}
	return &MasterKey{key: append([]byte(nil), key...)}, nil
}

// LoadMasterKey reads the master key file at path: exactly 32 raw bytes in a
// regular file that grants no permission to group or others. Every failure
// wraps ErrMasterKey; a missing file also wraps fs.ErrNotExist.
func LoadMasterKey(path string) (*MasterKey, error) {
	// Checked before opening too, so that a FIFO or device is never opened
	// (opening a FIFO blocks), and again on the open file.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMasterKey, err)
	}
	if err := checkKeyFile(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMasterKey, err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMasterKey, err)
	}
	if err := checkKeyFile(path, fi); err != nil {
		return nil, err
	}
	// One byte more than a key, to see a file that grew since Stat.
	buf := make([]byte, KeySize+1)
	defer secret.Clear(buf)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: reading %s: %w", ErrMasterKey, path, err)
	}
	if n != KeySize {
		return nil, fmt.Errorf("%w: %s is not %d bytes", ErrMasterKey, path, KeySize)
	}
	m, err := NewMasterKey(buf[:KeySize])
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return m, nil
}

func checkKeyFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrMasterKey, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %#o, open to group or others; run chmod 600 %s", ErrMasterKey, path, perm, path)
	}
	return nil
}

// LoadOrCreateMasterKey loads the master key file at path as LoadMasterKey
// does, first making it if it does not exist: 32 bytes from rand, mode 0600,
// synced to disk, in a parent directory made with mode 0700 if absent. Of
// several processes starting at once, one makes the file and all use it. It
// never overwrites an existing file: one with the wrong size or mode is
// refused (ErrMasterKey) and left for the operator.
func LoadOrCreateMasterKey(path string, rand io.Reader) (*MasterKey, error) {
	m, err := LoadMasterKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return m, err
	}
	if err := createMasterKey(path, rand); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	return LoadMasterKey(path)
}

// createMasterKey writes a new key with securefile.WriteNew: it fails with
// fs.ErrExist if the file exists, so a key is never overwritten and no
// process reads a partly written one.
func createMasterKey(path string, rand io.Reader) error {
	key := make([]byte, KeySize)
	defer secret.Clear(key)
	if _, err := io.ReadFull(rand, key); err != nil {
		return fmt.Errorf("%w: reading randomness: %w", ErrMasterKey, err)
	}
	if err := securefile.WriteNew(path, key); err != nil {
		return fmt.Errorf("%w: %w", ErrMasterKey, err)
	}
	return nil
}

// WrapShare returns nonce(12) || AES-256-GCM(master, nonce, k, ad) with
// ad = "assent/server-share/v1" || lp(userID) || u32be(version) and the
// nonce read from rand. It fails if rand fails, the user id is over 65535
// bytes (ErrTooLong), the master key was destroyed (ErrMasterKey) or k was
// (oprf.ErrDestroyed).
func (m *MasterKey) WrapShare(rand io.Reader, userID string, version uint32, k *oprf.PrivateKey) ([]byte, error) {
	if len(m.key) != KeySize {
		return nil, fmt.Errorf("%w: destroyed", ErrMasterKey)
	}
	ad, err := shareAD(userID, version)
	if err != nil {
		return nil, err
	}
	kb := k.Bytes()
	defer secret.Clear(kb)
	if len(kb) != oprf.ScalarSize {
		return nil, fmt.Errorf("threshold: wrapping a server share: %w", oprf.ErrDestroyed)
	}
	return seal(rand, m.key, kb, ad)
}

// NewShare makes a server share for a new user with randomness from rand and
// returns it wrapped as WrapShare does; the key itself is destroyed before
// NewShare returns.
func (m *MasterKey) NewShare(rand io.Reader, userID string, version uint32) ([]byte, error) {
	k, err := oprf.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("threshold: making a server share: %w", err)
	}
	defer k.Destroy()
	return m.WrapShare(rand, userID, version, k)
}

// UnwrapShare returns the server share that WrapShare wrapped for userID
// and version. Any failure, including another user id or version, returns
// ErrUnwrap. The caller destroys the key when done.
func (m *MasterKey) UnwrapShare(userID string, version uint32, wrapped []byte) (*oprf.PrivateKey, error) {
	ad, err := shareAD(userID, version)
	if err != nil {
		return nil, ErrUnwrap
	}
	kb, err := open(m.key, wrapped, ad, oprf.ScalarSize)
	if err != nil {
		return nil, ErrUnwrap
	}
	defer secret.Clear(kb)
	k, err := oprf.ParsePrivateKey(kb)
	if err != nil {
		return nil, ErrUnwrap
	}
	return k, nil
}

// LabelMasterKeyID is the HMAC-SHA256 message of the master key's id.
const LabelMasterKeyID = "assent/master-key-id/v1"

// ID returns the key's id: hex of the first 16 bytes of
// HMAC-SHA256(key, LabelMasterKeyID). It is a fingerprint, not a secret
// (the HMAC of a fixed message under a 256-bit random key tells nothing of
// the key), for a store to record which key wraps its shares and refuse
// another. It returns "" once the key is destroyed.
func (m *MasterKey) ID() string {
	if len(m.key) != KeySize {
		return ""
	}
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte(LabelMasterKeyID))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// Destroy clears the key; the MasterKey is unusable afterwards. It must not
// run concurrently with other methods.
func (m *MasterKey) Destroy() {
	secret.Clear(m.key)
	m.key = nil
}

func shareAD(userID string, version uint32) ([]byte, error) {
	e := newEncoder(LabelShareWrap, 2+len(userID)+4)
	lp(&e, "user id", userID)
	e.u32(version)
	return e.result()
}

package device

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/internal/securefile"
	"github.com/assent-dev/assent/internal/strictjson"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/threshold"
)

// Keystore file format (JSON, one object, no other field):
//
//	{"version":1,
//	 "kdf":{"name":"argon2id","time":T,"memory_kib":M,"threads":P,"salt":"<base64>"},
//	 "aead":"xchacha20-poly1305","nonce":"<base64, 24 bytes>","ciphertext":"<base64>"}
//
// key = Argon2id(passphrase, salt, T, M, P, 32 bytes); the ciphertext is
// XChaCha20-Poly1305(key, nonce, plaintext, ad) with
//
//	ad = "assent/device-keystore/v1" || 0x00 || u8(version) || lp(kdf name) ||
//	     u32be(T) || u32be(M) || u8(P) || lp(salt) || lp(aead name)
//
// so that no header field can be changed without the file failing to open,
// and the plaintext
//
//	u8(1) || lp(device_id) || lp(user_id) || lp(server_url) || lp(device_key_id) ||
//	lp(oprf private key, 32 bytes) || lp(Ed25519 seed, 32 bytes)
//
// with lp(s) = u16be(len(s)) || s and no trailing byte.
const (
	// LabelKeystore separates the keystore's associated data from every
	// other Assent byte string.
	LabelKeystore = "assent/device-keystore/v1"

	keystoreVersion  = 1
	plaintextVersion = 1
	kdfArgon2id      = "argon2id"
	aeadXChaCha      = "xchacha20-poly1305"
	saltSize         = 32
	keySize          = chacha20poly1305.KeySize

	// Bounds on what a keystore file may ask of Open, so that a damaged or
	// hostile file cannot make it run for hours or allocate without limit.
	maxKDFTime      = 64
	maxKDFMemoryKiB = 1 << 20 // 1 GiB
	maxKeystoreSize = 16 << 10
)

// KDFParams are the Argon2id parameters of a keystore.
type KDFParams struct {
	Time      uint32 // passes
	MemoryKiB uint32 // memory in KiB
	Threads   uint8
}

// DefaultKDFParams are the parameters of a new keystore: 3 passes over
// 64 MiB with 4 lanes (RFC 9106's second recommended option, with more
// passes).
var DefaultKDFParams = KDFParams{Time: 3, MemoryKiB: 64 << 10, Threads: 4}

func (p KDFParams) check() error {
	if p.Time < 1 || p.Time > maxKDFTime || p.Threads < 1 ||
		p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMemoryKiB {
		return fmt.Errorf("%w: Argon2id parameters time=%d memory=%dKiB threads=%d out of range",
			ErrKeystore, p.Time, p.MemoryKiB, p.Threads)
	}
	return nil
}

// Identity is what an enrolled device is: its ids, the server it is enrolled
// with, its device share kD and its signing key. Call Destroy when done.
type Identity struct {
	DeviceID    string
	UserID      string
	ServerURL   string
	DeviceKeyID string // threshold.DeviceKeyID of OPRFKey's public key
	OPRFKey     *oprf.PrivateKey
	SigningKey  ed25519.PrivateKey
	// State is the device state the enrollment ended in (StateActive or
	// StateRecoveryPending); not kept in the keystore: the server's answer
	// to each call tells.
	State string
}

// SigningPublicKey returns the public half of the signing key.
func (id *Identity) SigningPublicKey() ed25519.PublicKey {
	return id.SigningKey.Public().(ed25519.PublicKey)
}

// Destroy clears the identity's secrets (best effort); the identity is
// unusable afterwards.
func (id *Identity) Destroy() {
	if id.OPRFKey != nil {
		id.OPRFKey.Destroy()
	}
	secret.Clear(id.SigningKey)
}

// check reports an identity that could not have come from enrollment.
func (id *Identity) check() error {
	switch {
	case id.OPRFKey == nil || len(id.SigningKey) != ed25519.PrivateKeySize:
		return errors.New("keys missing")
	case ids.Check(ids.Device, id.DeviceID) != nil:
		return errors.New("malformed device id")
	case ids.Check(ids.User, id.UserID) != nil:
		return errors.New("malformed user id")
	case id.DeviceKeyID != threshold.DeviceKeyID(id.OPRFKey.Public().Bytes()):
		return errors.New("device key id does not match the device key")
	}
	if _, err := parseServerURL(id.ServerURL); err != nil {
		return err
	}
	return nil
}

type keystoreFile struct {
	Version    int         `json:"version"`
	KDF        keystoreKDF `json:"kdf"`
	AEAD       string      `json:"aead"`
	Nonce      []byte      `json:"nonce"`
	Ciphertext []byte      `json:"ciphertext"`
}

type keystoreKDF struct {
	Name      string `json:"name"`
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
	Salt      []byte `json:"salt"`
}

func (f *keystoreFile) params() KDFParams {
	return KDFParams{Time: f.KDF.Time, MemoryKiB: f.KDF.MemoryKiB, Threads: f.KDF.Threads}
}

func (f *keystoreFile) ad() []byte {
	var b cryptobyte.Builder
	b.AddBytes([]byte(LabelKeystore))
	b.AddUint8(0)
	b.AddUint8(uint8(f.Version))
	addLP(&b, []byte(f.KDF.Name))
	b.AddUint32(f.KDF.Time)
	b.AddUint32(f.KDF.MemoryKiB)
	b.AddUint8(f.KDF.Threads)
	addLP(&b, f.KDF.Salt)
	addLP(&b, []byte(f.AEAD))
	return b.BytesOrPanic() // every field is bounded by check, so no length overflows
}

func addLP(b *cryptobyte.Builder, v []byte) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
}

// CreateKeystoreIn seals id under passphrase as CreateKeystore does and
// stores the blob in s, which never replaces an existing one
// (ErrKeystoreExists). Errors as CreateKeystore.
func CreateKeystoreIn(ctx context.Context, s Storage, passphrase []byte, id *Identity, rand io.Reader, p KDFParams) error {
	if len(passphrase) == 0 {
		return ErrEmptyPassphrase
	}
	if err := p.check(); err != nil {
		return err
	}
	if err := id.check(); err != nil {
		return fmt.Errorf("%w: identity: %v", ErrKeystore, err)
	}
	data, err := sealKeystore(passphrase, id, rand, p)
	if err != nil {
		return err
	}
	return s.CreateKeystore(ctx, data)
}

// OpenKeystoreIn reads the keystore blob from s and decrypts it as
// OpenKeystore does. Errors as OpenKeystore; a storage without a keystore
// gives ErrKeystore wrapping ErrNoKeystore.
func OpenKeystoreIn(ctx context.Context, s Storage, passphrase []byte) (*Identity, error) {
	data, err := s.ReadKeystore(ctx)
	if err != nil {
		return nil, err
	}
	if len(data) > maxKeystoreSize {
		return nil, fmt.Errorf("%w: larger than any keystore", ErrKeystore)
	}
	return openKeystore(data, passphrase)
}

// CreateKeystore writes id to a new keystore file at path, encrypted under
// passphrase with a key derived by Argon2id with params p (use
// DefaultKDFParams; cheaper ones only in tests). The file is mode 0600 and
// appears whole or not at all: it is written and synced under a temporary
// name, then linked into place, which fails with ErrKeystoreExists if path
// exists. A missing parent directory is made with mode 0700.
//
// Errors: ErrEmptyPassphrase, ErrKeystoreExists, and ErrKeystore for bad
// params, an identity that could not come from enrollment, or an I/O
// failure. randomness for salt and nonce comes from rand.
func CreateKeystore(path string, passphrase []byte, id *Identity, rand io.Reader, p KDFParams) error {
	return CreateKeystoreIn(context.Background(), NewFileStorage(FilePaths{Keystore: path}), passphrase, id, rand, p)
}

func sealKeystore(passphrase []byte, id *Identity, rand io.Reader, p KDFParams) ([]byte, error) {
	f := keystoreFile{
		Version: keystoreVersion,
		KDF: keystoreKDF{Name: kdfArgon2id, Time: p.Time, MemoryKiB: p.MemoryKiB, Threads: p.Threads,
			Salt: make([]byte, saltSize)},
		AEAD:  aeadXChaCha,
		Nonce: make([]byte, chacha20poly1305.NonceSizeX),
	}
	if _, err := io.ReadFull(rand, f.KDF.Salt); err != nil {
		return nil, fmt.Errorf("%w: reading randomness: %v", ErrKeystore, err)
	}
	if _, err := io.ReadFull(rand, f.Nonce); err != nil {
		return nil, fmt.Errorf("%w: reading randomness: %v", ErrKeystore, err)
	}
	plain := marshalIdentity(id)
	defer secret.Clear(plain)
	key := argon2.IDKey(passphrase, f.KDF.Salt, p.Time, p.MemoryKiB, p.Threads, keySize)
	defer secret.Clear(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeystore, err)
	}
	f.Ciphertext = aead.Seal(nil, f.Nonce, plain, f.ad())
	data, err := json.MarshalIndent(&f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeystore, err)
	}
	return append(data, '\n'), nil
}

// marshalIdentity returns the keystore plaintext; the caller clears it.
func marshalIdentity(id *Identity) []byte {
	k := id.OPRFKey.Bytes()
	defer secret.Clear(k)
	seed := id.SigningKey.Seed()
	defer secret.Clear(seed)
	// Room for everything up front, so that the builder never grows and
	// leaves a copy of the keys behind in a discarded buffer.
	size := 1 + 6*2 + len(id.DeviceID) + len(id.UserID) + len(id.ServerURL) + len(id.DeviceKeyID) + len(k) + len(seed)
	b := cryptobyte.NewBuilder(make([]byte, 0, size))
	b.AddUint8(plaintextVersion)
	for _, s := range []string{id.DeviceID, id.UserID, id.ServerURL, id.DeviceKeyID} {
		addLP(b, []byte(s))
	}
	addLP(b, k)
	addLP(b, seed)
	return b.BytesOrPanic() // id.check bounds every field well under 64 KiB
}

// OpenKeystore reads and decrypts the keystore at path. The caller owns the
// identity and calls Destroy when done.
//
// Errors: ErrPassphrase when the passphrase does not open the file (or the
// file was altered); ErrKeystore when the file is missing, is not a regular
// file, has any group or other permission bit set, is malformed, or asks for
// out-of-range KDF parameters.
func OpenKeystore(path string, passphrase []byte) (*Identity, error) {
	return OpenKeystoreIn(context.Background(), NewFileStorage(FilePaths{Keystore: path}), passphrase)
}

func openKeystore(data, passphrase []byte) (*Identity, error) {
	var f keystoreFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, fmt.Errorf("%w: not a keystore file: %v", ErrKeystore, err)
	}
	if f.Version != keystoreVersion || f.KDF.Name != kdfArgon2id || f.AEAD != aeadXChaCha {
		return nil, fmt.Errorf("%w: unsupported keystore version %d (%.20q, %.20q)", ErrKeystore, f.Version, f.KDF.Name, f.AEAD)
	}
	if len(f.KDF.Salt) < 16 || len(f.KDF.Salt) > 64 || len(f.Nonce) != chacha20poly1305.NonceSizeX ||
		len(f.Ciphertext) < chacha20poly1305.Overhead {
		return nil, fmt.Errorf("%w: salt, nonce or ciphertext has the wrong length", ErrKeystore)
	}
	p := f.params()
	if err := p.check(); err != nil {
		return nil, err
	}
	key := argon2.IDKey(passphrase, f.KDF.Salt, p.Time, p.MemoryKiB, p.Threads, keySize)
	defer secret.Clear(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeystore, err)
	}
	plain, err := aead.Open(nil, f.Nonce, f.Ciphertext, f.ad())
	if err != nil {
		return nil, ErrPassphrase
	}
	defer secret.Clear(plain)
	id, err := unmarshalIdentity(plain)
	if err != nil {
		return nil, fmt.Errorf("%w: contents: %v", ErrKeystore, err)
	}
	return id, nil
}

func unmarshalIdentity(plain []byte) (*Identity, error) {
	s := cryptobyte.String(plain)
	var version uint8
	var did, uid, url, kid, k, seed cryptobyte.String
	if !s.ReadUint8(&version) || version != plaintextVersion ||
		!s.ReadUint16LengthPrefixed(&did) || !s.ReadUint16LengthPrefixed(&uid) ||
		!s.ReadUint16LengthPrefixed(&url) || !s.ReadUint16LengthPrefixed(&kid) ||
		!s.ReadUint16LengthPrefixed(&k) || !s.ReadUint16LengthPrefixed(&seed) || !s.Empty() {
		return nil, errors.New("malformed")
	}
	if len(seed) != ed25519.SeedSize {
		return nil, errors.New("signing key has the wrong length")
	}
	key, err := oprf.ParsePrivateKey(k)
	if err != nil {
		return nil, errors.New("device share malformed")
	}
	id := &Identity{
		DeviceID: string(did), UserID: string(uid), ServerURL: string(url), DeviceKeyID: string(kid),
		OPRFKey: key, SigningKey: ed25519.NewKeyFromSeed(seed),
	}
	if err := id.check(); err != nil {
		id.Destroy()
		return nil, err
	}
	return id, nil
}

// decodeStrict decodes exactly one JSON value into v by strictjson,
// refusing unknown fields too.
func decodeStrict(data []byte, v any) error {
	return strictjson.Decode(data, v, strictjson.Options{})
}

// readPrivateFile reads a keystore file (readPrivate with ErrKeystore); a
// missing one wraps ErrNoKeystore too.
func readPrivateFile(path string, max int64) ([]byte, error) {
	data, err := readPrivate(path, max, ErrKeystore)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %w: %s", ErrKeystore, ErrNoKeystore, path)
	}
	return data, err
}

// readPrivate reads a regular file of at most max bytes that only its owner
// may read or write. Every error wraps sentinel; a missing file's wraps
// fs.ErrNotExist too.
func readPrivate(path string, max int64, sentinel error) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", sentinel, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", sentinel, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file", sentinel, path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %04o; it must be readable by its owner only (chmod 600)", sentinel, path, perm)
	}
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", sentinel, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", sentinel, path, max)
	}
	return data, nil
}

// writeNewFile writes data to a new file at path with mode 0600, atomically
// and durably (securefile.WriteNew); it never overwrites a keystore.
func writeNewFile(path string, data []byte) error {
	err := securefile.WriteNew(path, data)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w: %s", ErrKeystoreExists, path)
	default:
		return fmt.Errorf("%w: %v", ErrKeystore, err)
	}
}

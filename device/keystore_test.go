package device

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTestKeystore(t *testing.T, p KDFParams) (path string, id *Identity) {
	t.Helper()
	id = newIdentity(t, "https://assent.example")
	path = filepath.Join(t.TempDir(), "sub", "device.key")
	if err := CreateKeystore(path, []byte("correct horse"), id, rand.Reader, p); err != nil {
		t.Fatal(err)
	}
	return path, id
}

func TestKeystoreRoundTrip(t *testing.T) {
	path, want := writeTestKeystore(t, cheapKDF)
	got, err := OpenKeystore(path, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if got.DeviceID != want.DeviceID || got.UserID != want.UserID || got.ServerURL != want.ServerURL ||
		got.DeviceKeyID != want.DeviceKeyID {
		t.Errorf("identity changed: got %+v, want %+v", got, want)
	}
	if !bytes.Equal(got.OPRFKey.Bytes(), want.OPRFKey.Bytes()) || !bytes.Equal(got.SigningKey, want.SigningKey) {
		t.Error("keys changed in the round trip")
	}
	for _, p := range []string{path, filepath.Dir(path)} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %04o, want no group or other bits", p, perm)
		}
	}
	got.Destroy()
	if !bytes.Equal(got.SigningKey, make([]byte, len(got.SigningKey))) {
		t.Error("Destroy left the signing key in memory")
	}
}

func TestKeystoreParams(t *testing.T) {
	// The default must stay strong (a derivation with it takes seconds under
	// the race detector, so it is not run here).
	if DefaultKDFParams.MemoryKiB < 64<<10 || DefaultKDFParams.Time < 3 || DefaultKDFParams.Threads < 1 {
		t.Fatalf("DefaultKDFParams weakened: %+v", DefaultKDFParams)
	}
	if err := DefaultKDFParams.check(); err != nil {
		t.Fatalf("DefaultKDFParams out of the accepted range: %v", err)
	}
	p := KDFParams{Time: 2, MemoryKiB: 96, Threads: 2}
	path, _ := writeTestKeystore(t, p)
	var f keystoreFile
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if f.params() != p {
		t.Errorf("file records %+v, want %+v", f.params(), p)
	}
	if _, err := OpenKeystore(path, []byte("correct horse")); err != nil {
		t.Fatal(err)
	}
}

func TestKeystoreNoSecretInFile(t *testing.T) {
	path, id := writeTestKeystore(t, cheapKDF)
	data, _ := os.ReadFile(path)
	for name, s := range map[string][]byte{"device share": id.OPRFKey.Bytes(), "signing seed": id.SigningKey.Seed()} {
		for _, enc := range []string{string(s), hex.EncodeToString(s), base64.StdEncoding.EncodeToString(s)} {
			if strings.Contains(string(data), enc) {
				t.Errorf("the %s appears in the keystore file", name)
			}
		}
	}
}

func TestKeystoreWrongPassphrase(t *testing.T) {
	path, _ := writeTestKeystore(t, cheapKDF)
	for _, pass := range []string{"correct hors", "correct horse ", "", "Correct horse"} {
		_, err := OpenKeystore(path, []byte(pass))
		if !errors.Is(err, ErrPassphrase) {
			t.Errorf("passphrase %q: got %v, want ErrPassphrase", pass, err)
		}
	}
	if !strings.Contains(ErrPassphrase.Error(), "wrong passphrase") {
		t.Errorf("ErrPassphrase reads %q, not clearly a wrong passphrase", ErrPassphrase)
	}
}

// TestKeystoreAltered changes each header field and the ciphertext: each must
// fail to open, as a wrong passphrase (the AEAD cannot tell) or as a
// malformed file.
func TestKeystoreAltered(t *testing.T) {
	path, _ := writeTestKeystore(t, cheapKDF)
	orig, _ := os.ReadFile(path)
	edit := func(fn func(f map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(orig, &m); err != nil {
			t.Fatal(err)
		}
		fn(m)
		b, _ := json.Marshal(m)
		return b
	}
	kdf := func(m map[string]any) map[string]any { return m["kdf"].(map[string]any) }
	flip := func(s any) string {
		b, _ := base64.StdEncoding.DecodeString(s.(string))
		b[len(b)/2] ^= 1
		return base64.StdEncoding.EncodeToString(b)
	}
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"ciphertext bit", edit(func(m map[string]any) { m["ciphertext"] = flip(m["ciphertext"]) }), ErrPassphrase},
		{"nonce bit", edit(func(m map[string]any) { m["nonce"] = flip(m["nonce"]) }), ErrPassphrase},
		{"salt bit", edit(func(m map[string]any) { kdf(m)["salt"] = flip(kdf(m)["salt"]) }), ErrPassphrase},
		{"time", edit(func(m map[string]any) { kdf(m)["time"] = 2 }), ErrPassphrase},
		{"memory", edit(func(m map[string]any) { kdf(m)["memory_kib"] = 128 }), ErrPassphrase},
		{"threads", edit(func(m map[string]any) { kdf(m)["threads"] = 2 }), ErrPassphrase},
		{"memory huge", edit(func(m map[string]any) { kdf(m)["memory_kib"] = 1 << 30 }), ErrKeystore},
		{"time zero", edit(func(m map[string]any) { kdf(m)["time"] = 0 }), ErrKeystore},
		{"time huge", edit(func(m map[string]any) { kdf(m)["time"] = 1 << 20 }), ErrKeystore},
		{"threads zero", edit(func(m map[string]any) { kdf(m)["threads"] = 0 }), ErrKeystore},
		{"version", edit(func(m map[string]any) { m["version"] = 2 }), ErrKeystore},
		{"kdf name", edit(func(m map[string]any) { kdf(m)["name"] = "scrypt" }), ErrKeystore},
		{"aead", edit(func(m map[string]any) { m["aead"] = "aes-256-gcm" }), ErrKeystore},
		{"short nonce", edit(func(m map[string]any) { m["nonce"] = "AAAA" }), ErrKeystore},
		{"short salt", edit(func(m map[string]any) { kdf(m)["salt"] = "AAAA" }), ErrKeystore},
		{"short ciphertext", edit(func(m map[string]any) { m["ciphertext"] = "AAAA" }), ErrKeystore},
		{"unknown field", edit(func(m map[string]any) { m["hint"] = "x" }), ErrKeystore},
		{"missing field", edit(func(m map[string]any) { delete(m, "nonce") }), ErrKeystore},
		{"trailing data", append(bytes.Clone(orig), "{}"...), ErrKeystore},
		{"truncated", orig[:len(orig)/2], ErrKeystore},
		{"empty", nil, ErrKeystore},
		{"not json", []byte("assent keystore"), ErrKeystore},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := os.WriteFile(path, c.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenKeystore(path, []byte("correct horse"))
			if !errors.Is(err, c.want) {
				t.Errorf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestKeystoreFileChecks(t *testing.T) {
	path, _ := writeTestKeystore(t, cheapKDF)
	pass := []byte("correct horse")

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeystore(path, pass); !errors.Is(err, ErrKeystore) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable keystore: got %v, want ErrKeystore naming chmod 600", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeystore(path, pass); err != nil {
		t.Errorf("after chmod 600: %v", err)
	}
	if _, err := OpenKeystore(filepath.Join(t.TempDir(), "missing.key"), pass); !errors.Is(err, ErrKeystore) {
		t.Errorf("missing file: got %v, want ErrKeystore", err)
	}
	dir := filepath.Join(t.TempDir(), "dir.key")
	os.Mkdir(dir, 0o700)
	if _, err := OpenKeystore(dir, pass); !errors.Is(err, ErrKeystore) {
		t.Errorf("directory: got %v, want ErrKeystore", err)
	}
	big := filepath.Join(t.TempDir(), "big.key")
	os.WriteFile(big, bytes.Repeat([]byte(" "), maxKeystoreSize+1), 0o600)
	if _, err := OpenKeystore(big, pass); !errors.Is(err, ErrKeystore) {
		t.Errorf("oversize file: got %v, want ErrKeystore", err)
	}
}

func TestCreateKeystoreRefuses(t *testing.T) {
	path, id := writeTestKeystore(t, cheapKDF)
	before, _ := os.ReadFile(path)
	if err := CreateKeystore(path, []byte("other"), id, rand.Reader, cheapKDF); !errors.Is(err, ErrKeystoreExists) {
		t.Errorf("existing file: got %v, want ErrKeystoreExists", err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("a refused create changed the existing keystore")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %d entries", len(entries))
	}

	fresh := filepath.Join(t.TempDir(), "k")
	if err := CreateKeystore(fresh, nil, id, rand.Reader, cheapKDF); !errors.Is(err, ErrEmptyPassphrase) {
		t.Errorf("empty passphrase: got %v", err)
	}
	if err := CreateKeystore(fresh, []byte("p"), id, rand.Reader, KDFParams{Time: 1, MemoryKiB: 4, Threads: 1}); !errors.Is(err, ErrKeystore) {
		t.Errorf("memory below Argon2's minimum: got %v", err)
	}
	bad := *id
	bad.DeviceKeyID = "00"
	if err := CreateKeystore(fresh, []byte("p"), &bad, rand.Reader, cheapKDF); !errors.Is(err, ErrKeystore) {
		t.Errorf("inconsistent identity: got %v", err)
	}
	bad = *id
	bad.ServerURL = "ftp://x"
	if err := CreateKeystore(fresh, []byte("p"), &bad, rand.Reader, cheapKDF); !errors.Is(err, ErrKeystore) {
		t.Errorf("bad server URL: got %v", err)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Error("a refused create left a file")
	}
}

// FuzzOpenKeystore feeds arbitrary files to the decoder: never a panic, and
// only the documented errors. Cheap KDF parameters are forced by the seed;
// the bounds check keeps any other from running long.
func FuzzOpenKeystore(f *testing.F) {
	id := newIdentity(f, "https://assent.example")
	data, err := sealKeystore([]byte("pw"), id, rand.Reader, cheapKDF)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var probe keystoreFile
		if json.Unmarshal(data, &probe) == nil && (probe.KDF.MemoryKiB > 1<<12 || probe.KDF.Time > 4) {
			return // valid but slow parameters: not this fuzzer's business
		}
		id, err := openKeystore(data, []byte("pw"))
		if err == nil {
			if id.check() != nil {
				t.Fatal("opened an inconsistent identity")
			}
			return
		}
		if !errors.Is(err, ErrKeystore) && !errors.Is(err, ErrPassphrase) {
			t.Fatalf("undocumented error %v", err)
		}
	})
}

package threshold

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/assent-dev/assent/oprf"
)

func TestMasterKeyCreateAndLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "keys")
	path := filepath.Join(dir, "master.key")
	m, err := LoadOrCreateMasterKey(path, testRand("master"))
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 32)
	testRand("master").Read(want)
	if !bytes.Equal(m.key, want) {
		t.Fatal("master key is not the 32 bytes read from rand")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("key file mode %v size %d; want 0600 and 32", fi.Mode().Perm(), fi.Size())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("made directory with mode %v, want 0700", di.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the key", len(entries))
	}

	// A second start loads the same key and does not overwrite it.
	again, err := LoadOrCreateMasterKey(path, testRand("other"))
	if err != nil || !bytes.Equal(again.key, want) {
		t.Fatalf("reload: %v, same key %v", err, err == nil && bytes.Equal(again.key, want))
	}
	loaded, err := LoadMasterKey(path)
	if err != nil || !bytes.Equal(loaded.key, want) {
		t.Fatalf("LoadMasterKey: %v", err)
	}
}

func TestMasterKeyRefusesUnsafeFiles(t *testing.T) {
	good := bytes.Repeat([]byte{7}, 32)
	for _, tc := range []struct {
		name    string
		content []byte
		mode    os.FileMode
		msg     string
	}{
		{"world readable", good, 0o644, "chmod 600"},
		{"group readable", good, 0o640, "chmod 600"},
		{"group writable", good, 0o620, "chmod 600"},
		{"other executable", good, 0o601, "chmod 600"},
		{"empty", nil, 0o600, "not 32 bytes"},
		{"short", good[:31], 0o600, "not 32 bytes"},
		{"long", append(good, 7), 0o600, "not 32 bytes"},
		{"hex text", []byte(strings.Repeat("07", 32)), 0o600, "not 32 bytes"},
		{"all zeros", make([]byte, 32), 0o600, "all zeros"},
	} {
		path := filepath.Join(t.TempDir(), "master.key")
		if err := os.WriteFile(path, tc.content, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		for _, load := range []func() (*MasterKey, error){
			func() (*MasterKey, error) { return LoadMasterKey(path) },
			func() (*MasterKey, error) { return LoadOrCreateMasterKey(path, testRand("x")) },
		} {
			m, err := load()
			if !errors.Is(err, ErrMasterKey) || m != nil || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s: %v; want ErrMasterKey saying %q", tc.name, err, tc.msg)
			}
		}
		// The file is left as it was, for the operator.
		if b, _ := os.ReadFile(path); !bytes.Equal(b, tc.content) {
			t.Errorf("%s: file was changed", tc.name)
		}
	}

	dir := t.TempDir()
	if _, err := LoadOrCreateMasterKey(dir, testRand("x")); !errors.Is(err, ErrMasterKey) {
		t.Errorf("directory as key: %v, want ErrMasterKey", err)
	}
	if _, err := LoadMasterKey(filepath.Join(dir, "absent")); !errors.Is(err, ErrMasterKey) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent file: %v, want ErrMasterKey and fs.ErrNotExist", err)
	}
}

func TestMasterKeyCreateFailures(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	if _, err := LoadOrCreateMasterKey(path, failingReader{}); !errors.Is(err, ErrMasterKey) || !errors.Is(err, errTestRand) {
		t.Fatalf("failing rand: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("failed creation left %d files", len(entries))
	}

	// A parent that is a file cannot hold the key.
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, nil, 0o600)
	if _, err := LoadOrCreateMasterKey(filepath.Join(blocker, "master.key"), testRand("x")); !errors.Is(err, ErrMasterKey) {
		t.Fatalf("parent is a file: %v", err)
	}
}

// Processes starting at once all end up with the one key that won.
func TestMasterKeyCreateRace(t *testing.T) {
	const racers = 8
	for round := range 10 {
		dir := t.TempDir()
		path := filepath.Join(dir, "master.key")
		keys := make([][]byte, racers)
		errs := make([]error, racers)
		var start, done sync.WaitGroup
		start.Add(1)
		for i := range racers {
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				m, err := LoadOrCreateMasterKey(path, testRand(string(rune('a'+i))))
				errs[i] = err
				if err == nil {
					keys[i] = m.key
				}
			}()
		}
		start.Done()
		done.Wait()
		onDisk, _ := os.ReadFile(path)
		for i := range racers {
			if errs[i] != nil || !bytes.Equal(keys[i], onDisk) {
				t.Fatalf("round %d racer %d: %v, key matches file: %v", round, i, errs[i], bytes.Equal(keys[i], onDisk))
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Fatalf("round %d: %d files left, want 1", round, len(entries))
		}
	}
}

func TestNewMasterKey(t *testing.T) {
	k := bytes.Repeat([]byte{5}, 32)
	m, err := NewMasterKey(k)
	if err != nil {
		t.Fatal(err)
	}
	k[0] = 6
	if m.key[0] != 5 {
		t.Fatal("NewMasterKey keeps the caller's buffer")
	}
	for _, bad := range [][]byte{nil, k[:31], append(k, 1), make([]byte, 32)} {
		if _, err := NewMasterKey(bad); !errors.Is(err, ErrMasterKey) {
			t.Errorf("NewMasterKey(%d bytes): %v, want ErrMasterKey", len(bad), err)
		}
	}
}

func TestShareWrap(t *testing.T) {
	m, err := NewMasterKey(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	k, err := oprf.GenerateKey(testRand("share"))
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := m.WrapShare(testRand("nonce"), "usr_1", 3, k)
	if err != nil {
		t.Fatal(err)
	}
	if len(wrapped) != 12+32+16 || bytes.Contains(wrapped, k.Bytes()) {
		t.Fatalf("wrapped share is %d bytes or holds the key", len(wrapped))
	}
	got, err := m.UnwrapShare("usr_1", 3, wrapped)
	if err != nil || !bytes.Equal(got.Bytes(), k.Bytes()) {
		t.Fatalf("UnwrapShare: %v", err)
	}

	// The associated data is LabelShareWrap || lp(uid) || u32be(version):
	// check by opening with a hand-built one.
	ad := []byte("assent/server-share/v1\x00\x05usr_1\x00\x00\x00\x03")
	if kb, err := open(m.key, wrapped, ad, 32); err != nil || !bytes.Equal(kb, k.Bytes()) {
		t.Fatalf("share wrap AD is not as documented: %v", err)
	}

	other, _ := NewMasterKey(bytes.Repeat([]byte{6}, 32))
	flipped := append([]byte{}, wrapped...)
	flipped[20] ^= 1
	for name, c := range map[string]struct {
		m       *MasterKey
		uid     string
		version uint32
		wrapped []byte
	}{
		"other master":  {other, "usr_1", 3, wrapped},
		"other user":    {m, "usr_2", 3, wrapped},
		"other version": {m, "usr_1", 4, wrapped},
		"tampered":      {m, "usr_1", 3, flipped},
		"truncated":     {m, "usr_1", 3, wrapped[:59]},
		"long user":     {m, strings.Repeat("u", 65536), 3, wrapped},
	} {
		if k, err := c.m.UnwrapShare(c.uid, c.version, c.wrapped); err != ErrUnwrap || k != nil {
			t.Errorf("%s: %v; want exactly ErrUnwrap", name, err)
		}
	}

	// A wrap of bytes that are not a valid key (zero scalar) is refused too.
	zero, _ := seal(testRand("z"), m.key, make([]byte, 32), ad)
	if _, err := m.UnwrapShare("usr_1", 3, zero); err != ErrUnwrap {
		t.Errorf("wrapped zero scalar: %v, want ErrUnwrap", err)
	}

	m.Destroy()
	if _, err := m.WrapShare(testRand("n"), "usr_1", 3, k); !errors.Is(err, ErrMasterKey) {
		t.Errorf("WrapShare after Destroy: %v", err)
	}
	if _, err := m.UnwrapShare("usr_1", 3, wrapped); err == nil {
		t.Error("UnwrapShare after Destroy succeeded")
	}
}

func TestNewShare(t *testing.T) {
	m, _ := NewMasterKey(bytes.Repeat([]byte{5}, 32))
	w1, err := m.NewShare(testRand("a"), "usr_1", 1)
	if err != nil {
		t.Fatal(err)
	}
	w2, _ := m.NewShare(testRand("b"), "usr_2", 1)
	k1, err := m.UnwrapShare("usr_1", 1, w1)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := m.UnwrapShare("usr_2", 1, w2)
	if err != nil || bytes.Equal(k1.Bytes(), k2.Bytes()) {
		t.Fatalf("two users' shares: %v, equal %v", err, err == nil && bytes.Equal(k1.Bytes(), k2.Bytes()))
	}
	if _, err := m.NewShare(failingReader{}, "usr_3", 1); !errors.Is(err, errTestRand) {
		t.Fatalf("NewShare with failing rand: %v", err)
	}

	k1.Destroy()
	if _, err := m.WrapShare(testRand("c"), "usr_1", 1, k1); !errors.Is(err, oprf.ErrDestroyed) {
		t.Fatalf("WrapShare of a destroyed key: %v", err)
	}
}

func FuzzUnwrapShare(f *testing.F) {
	m, _ := NewMasterKey(bytes.Repeat([]byte{5}, 32))
	k, _ := oprf.GenerateKey(testRand("fuzz share"))
	wrapped, err := m.WrapShare(testRand("nonce"), "usr_1", 7, k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("usr_1", uint32(7), wrapped)
	f.Add("usr_1", uint32(8), wrapped)
	f.Add("", uint32(0), []byte{})
	f.Fuzz(func(t *testing.T, uid string, version uint32, w []byte) {
		got, err := m.UnwrapShare(uid, version, w)
		if err != nil {
			if err != ErrUnwrap || got != nil {
				t.Fatalf("UnwrapShare failed with %v", err)
			}
			return
		}
		if uid != "usr_1" || version != 7 || !bytes.Equal(w, wrapped) || !bytes.Equal(got.Bytes(), k.Bytes()) {
			t.Fatalf("UnwrapShare accepted a forged wrap for %q version %d", uid, version)
		}
	})
}

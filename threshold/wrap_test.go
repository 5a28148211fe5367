package threshold

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestWrapAD(t *testing.T) {
	digest := bytes.Repeat([]byte{0xab}, 32)
	got, err := WrapAD("usr_1", "rec_2", digest, 0x0102030405060708)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte("assent/wrap/v1\x00\x05usr_1\x00\x05rec_2"), digest...)
	want = append(want, 1, 2, 3, 4, 5, 6, 7, 8)
	if !bytes.Equal(got, want) {
		t.Fatalf("WrapAD = %x\nwant      %x", got, want)
	}
	for _, d := range [][]byte{nil, digest[:31], append(digest, 0)} {
		if _, err := WrapAD("u", "r", d, 1); !errors.Is(err, ErrKeySize) {
			t.Errorf("WrapAD with a %d-byte digest: %v, want ErrKeySize", len(d), err)
		}
	}
	if _, err := WrapAD(string(make([]byte, 65536)), "r", digest, 1); !errors.Is(err, ErrTooLong) {
		t.Errorf("WrapAD with a long user id: %v, want ErrTooLong", err)
	}
}

func wrapFixture(t *testing.T) (kek, dek, ad, wrapped []byte) {
	t.Helper()
	kek = bytes.Repeat([]byte{1}, 32)
	dek = bytes.Repeat([]byte{2}, 32)
	ad, err := WrapAD("usr_1", "rec_2", bytes.Repeat([]byte{3}, 32), 42)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err = WrapDEK(testRand("wrap"), kek, dek, ad)
	if err != nil {
		t.Fatal(err)
	}
	return kek, dek, ad, wrapped
}

func TestWrapDEKRoundTrip(t *testing.T) {
	kek, dek, ad, wrapped := wrapFixture(t)
	if len(wrapped) != WrappedDEKSize || WrappedDEKSize != 60 {
		t.Fatalf("wrapped DEK is %d bytes, want 60", len(wrapped))
	}
	nonce := make([]byte, 12)
	testRand("wrap").Read(nonce)
	if !bytes.Equal(wrapped[:12], nonce) {
		t.Fatalf("nonce %x is not the first 12 bytes of rand %x", wrapped[:12], nonce)
	}
	if bytes.Contains(wrapped, dek) {
		t.Fatal("wrapped DEK contains the DEK")
	}
	got, err := UnwrapDEK(kek, wrapped, ad)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("UnwrapDEK = %x, %v; want %x", got, err, dek)
	}
	// A second wrap draws a fresh nonce.
	again, _ := WrapDEK(testRand("other"), kek, dek, ad)
	if bytes.Equal(again, wrapped) {
		t.Fatal("two wraps with different randomness are equal")
	}
}

func TestUnwrapDEKRejects(t *testing.T) {
	kek, _, ad, wrapped := wrapFixture(t)
	otherAD := func(uid, rid string, digest byte, size uint64) []byte {
		b, err := WrapAD(uid, rid, bytes.Repeat([]byte{digest}, 32), size)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := map[string]struct{ kek, wrapped, ad []byte }{
		"other kek":    {bytes.Repeat([]byte{9}, 32), wrapped, ad},
		"short kek":    {kek[:31], wrapped, ad},
		"nil kek":      {nil, wrapped, ad},
		"other user":   {kek, wrapped, otherAD("usr_9", "rec_2", 3, 42)},
		"other record": {kek, wrapped, otherAD("usr_1", "rec_9", 3, 42)},
		"other digest": {kek, wrapped, otherAD("usr_1", "rec_2", 4, 42)},
		"other size":   {kek, wrapped, otherAD("usr_1", "rec_2", 3, 43)},
		"no ad":        {kek, wrapped, nil},
		"truncated":    {kek, wrapped[:59], ad},
		"extended":     {kek, append(append([]byte{}, wrapped...), 0), ad},
		"nonce only":   {kek, wrapped[:12], ad},
		"empty":        {kek, nil, ad},
	}
	for i := range wrapped {
		w := append([]byte{}, wrapped...)
		w[i] ^= 0x80
		cases[fmt.Sprintf("flip byte %d", i)] = struct{ kek, wrapped, ad []byte }{kek, w, ad}
	}
	for name, c := range cases {
		dek, err := UnwrapDEK(c.kek, c.wrapped, c.ad)
		if err != ErrUnwrap || dek != nil { // exactly the opaque error, not a wrapped one
			t.Errorf("%s: %x, %v; want exactly ErrUnwrap", name, dek, err)
		}
	}
}

func TestWrapDEKBadInput(t *testing.T) {
	k := make([]byte, 32)
	for _, tc := range []struct{ kek, dek []byte }{{k[:16], k}, {k, k[:31]}, {nil, k}, {k, append(k, 1)}} {
		if w, err := WrapDEK(testRand("x"), tc.kek, tc.dek, nil); !errors.Is(err, ErrKeySize) || w != nil {
			t.Errorf("WrapDEK(%d-byte kek, %d-byte dek) = %v; want ErrKeySize", len(tc.kek), len(tc.dek), err)
		}
	}
	if w, err := WrapDEK(failingReader{}, k, k, nil); !errors.Is(err, errTestRand) || w != nil {
		t.Errorf("WrapDEK with failing rand: %v; want the reader's error", err)
	}
}

func FuzzUnwrapDEK(f *testing.F) {
	kek := bytes.Repeat([]byte{1}, 32)
	dek := bytes.Repeat([]byte{2}, 32)
	ad := []byte("ad")
	wrapped, err := WrapDEK(testRand("fuzz"), kek, dek, ad)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(wrapped, ad)
	f.Add(wrapped[:59], ad)
	f.Add([]byte{}, []byte{})
	f.Fuzz(func(t *testing.T, w, a []byte) {
		got, err := UnwrapDEK(kek, w, a)
		if err != nil {
			if err != ErrUnwrap || got != nil {
				t.Fatalf("UnwrapDEK failed with %v and %x", err, got)
			}
			return
		}
		// Only the genuine wrap opens.
		if !bytes.Equal(w, wrapped) || !bytes.Equal(a, ad) || !bytes.Equal(got, dek) {
			t.Fatalf("UnwrapDEK accepted a forged wrap %x (ad %q)", w, a)
		}
	})
}

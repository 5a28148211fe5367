package threshold

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"
)

// hkdfByHand is RFC 5869 with one output block, written from the RFC and
// not through crypto/hkdf, so that DeriveKEK's parameter order is checked.
func hkdfByHand(ikm, salt, info []byte) []byte {
	ext := hmac.New(sha256.New, salt)
	ext.Write(ikm)
	prk := ext.Sum(nil)
	exp := hmac.New(sha256.New, prk)
	exp.Write(info)
	exp.Write([]byte{1})
	return exp.Sum(nil)
}

func TestDeriveKEK(t *testing.T) {
	yS := bytes.Repeat([]byte{0x11}, 64)
	yD := bytes.Repeat([]byte{0x22}, 64)
	kek, err := DeriveKEK(yS, yD, "usr_a", "rec_b")
	if err != nil {
		t.Fatal(err)
	}
	want := hkdfByHand(append(append([]byte{}, yS...), yD...), []byte("assent/kek/v1"), []byte("\x00\x05usr_a\x00\x05rec_b"))
	if !bytes.Equal(kek, want) || len(kek) != KeySize {
		t.Fatalf("DeriveKEK = %x, want %x", kek, want)
	}
	if !bytes.Equal(yS, bytes.Repeat([]byte{0x11}, 64)) || !bytes.Equal(yD, bytes.Repeat([]byte{0x22}, 64)) {
		t.Fatal("DeriveKEK changed its inputs")
	}

	for name, other := range map[string]func() ([]byte, error){
		"swapped outputs": func() ([]byte, error) { return DeriveKEK(yD, yS, "usr_a", "rec_b") },
		"other user":      func() ([]byte, error) { return DeriveKEK(yS, yD, "usr_x", "rec_b") },
		"other record":    func() ([]byte, error) { return DeriveKEK(yS, yD, "usr_a", "rec_x") },
		"moved boundary":  func() ([]byte, error) { return DeriveKEK(yS, yD, "usr_ar", "ec_b") },
	} {
		k, err := other()
		if err != nil || bytes.Equal(k, kek) {
			t.Errorf("%s: KEK %x, %v; want another KEK", name, k, err)
		}
	}
}

func TestDeriveKEKBadInput(t *testing.T) {
	good := make([]byte, 64)
	for _, tc := range []struct {
		name     string
		yS, yD   []byte
		uid, rid string
		want     error
	}{
		{"short yS", good[:63], good, "u", "r", ErrKeySize},
		{"long yD", good, append(good, 0), "u", "r", ErrKeySize},
		{"nil", nil, nil, "u", "r", ErrKeySize},
		{"long uid", good, good, string(make([]byte, 65536)), "r", ErrTooLong},
	} {
		if k, err := DeriveKEK(tc.yS, tc.yD, tc.uid, tc.rid); !errors.Is(err, tc.want) || k != nil {
			t.Errorf("%s: %x, %v; want %v", tc.name, k, err, tc.want)
		}
	}
}

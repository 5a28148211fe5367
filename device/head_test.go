package device

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestHeadEncoding(t *testing.T) {
	sum := sha256.Sum256([]byte("entry"))
	h := AuditHead{Seq: 42, Hash: sum[:]}
	enc, err := EncodeHead(h)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"version":1,"seq":42,"hash":"` + hexOf(sum[:]) + `"}`; string(enc) != want {
		t.Fatalf("encoding %s, want %s", enc, want)
	}
	got, err := DecodeHead(enc)
	if err != nil || !got.Equal(h) {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	bad := map[string]string{
		"empty":          ``,
		"seq 0":          `{"version":1,"seq":0,"hash":"` + hexOf(sum[:]) + `"}`,
		"negative seq":   `{"version":1,"seq":-1,"hash":"` + hexOf(sum[:]) + `"}`,
		"version 2":      `{"version":2,"seq":42,"hash":"` + hexOf(sum[:]) + `"}`,
		"short hash":     `{"version":1,"seq":42,"hash":"` + hexOf(sum[:31]) + `"}`,
		"upper hex":      `{"version":1,"seq":42,"hash":"` + string(bytes.ToUpper([]byte(hexOf(sum[:])))) + `"}`,
		"spacing":        `{"version":1, "seq":42,"hash":"` + hexOf(sum[:]) + `"}`,
		"field order":    `{"seq":42,"version":1,"hash":"` + hexOf(sum[:]) + `"}`,
		"extra field":    `{"version":1,"seq":42,"hash":"` + hexOf(sum[:]) + `","x":1}`,
		"trailing bytes": string(enc) + "\n",
		"float seq":      `{"version":1,"seq":42.0,"hash":"` + hexOf(sum[:]) + `"}`,
		"missing hash":   `{"version":1,"seq":42}`,
	}
	for name, in := range bad {
		if _, err := DecodeHead([]byte(in)); !errors.Is(err, ErrHead) {
			t.Errorf("%s: %v, want ErrHead", name, err)
		}
	}
	if _, err := EncodeHead(AuditHead{Seq: 1, Hash: sum[:5]}); !errors.Is(err, ErrHead) {
		t.Errorf("encoding a short hash: %v", err)
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func FuzzDecodeHead(f *testing.F) {
	for _, seq := range []int64{1, 2, 1 << 40} {
		sum := sha256.Sum256([]byte{byte(seq)})
		enc, err := EncodeHead(AuditHead{Seq: seq, Hash: sum[:]})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add([]byte(`{"version":1,"seq":0,"hash":""}`))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := DecodeHead(data)
		if err != nil {
			if !errors.Is(err, ErrHead) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if h.Seq < 1 || len(h.Hash) != sha256.Size {
			t.Fatalf("decoded an impossible head %v", h)
		}
		enc, err := EncodeHead(h)
		if err != nil || !bytes.Equal(enc, data) {
			t.Fatalf("%q decoded but encodes to %q (%v)", data, enc, err)
		}
	})
}

package envelope_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"strconv"
	"testing"
	"testing/iotest"

	"github.com/assent-dev/assent/envelope"
)

// testSizes are the plaintext sizes of the issue: the edges around one chunk,
// exactly three chunks, and a large size drawn afresh on each run.
func testSizes(t *testing.T) []int {
	large := 5*specChunk + rand.IntN(3*specChunk)
	t.Logf("large size: %d", large)
	return []int{0, 1, specChunk - 1, specChunk, specChunk + 1, 3 * specChunk, large}
}

func TestRoundTrip(t *testing.T) {
	dek := testKey(1)
	for _, size := range testSizes(t) {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			pt := testPlaintext(size, uint64(size))
			ct := seal(t, dek, pt, nil)
			if got := envelope.CiphertextSize(int64(size)); got != int64(len(ct)) {
				t.Errorf("CiphertextSize(%d) = %d, envelope is %d bytes", size, got, len(ct))
			}
			for _, rs := range readSizes {
				got, err := openAll(dek, ct, rs)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, pt) {
					t.Fatalf("plaintext differs after round trip (reads of %d)", rs)
				}
			}
		})
	}
}

// TestMatchesSpec checks the Writer's output byte for byte against an
// envelope built from the documented format alone, and the Reader against
// that envelope: what another implementation needs to interoperate.
func TestMatchesSpec(t *testing.T) {
	dek := testKey(7)
	for _, size := range testSizes(t) {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			pt := testPlaintext(size, 3)
			var nonce [16]byte
			fixedRand(0x40).Read(nonce[:])
			want := refEnvelope(t, dek, refHeader(nonce[:]), refSplit(pt))
			if got := seal(t, dek, pt, fixedRand(0x40)); !bytes.Equal(got, want) {
				t.Fatalf("Writer output differs from the documented format (len %d, want %d)", len(got), len(want))
			}
			got, err := openAll(dek, want, specChunk)
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("Reader on a spec-built envelope: %v", err)
			}
		})
	}
}

// TestKnownAnswer pins the format with one fixed vector, computed apart from
// this code with Python's "cryptography" package (HKDF, AESGCM):
// DEK = 00 01 .. 1f, header nonce = 40 41 .. 4f, plaintext "assent".
func TestKnownAnswer(t *testing.T) {
	const vector = "41534e54" + "01" + "01" + "00010000" + "404142434445464748494a4b4c4d4e4f" +
		"9ad75592289676c1" + "7d024ee8e932cf23b8932b52401e"
	want, _ := hex.DecodeString(vector)
	if got := seal(t, testKey(0), []byte("assent"), fixedRand(0x40)); !bytes.Equal(got, want) {
		t.Fatalf("envelope = %x\nwant       %x", got, want)
	}
	got, err := openAll(testKey(0), want, 10)
	if err != nil || string(got) != "assent" {
		t.Fatalf("opening the vector = %q, %v", got, err)
	}
}

func TestCiphertextSize(t *testing.T) {
	for _, tc := range []struct{ in, want int64 }{
		{0, 26 + 16},
		{1, 26 + 1 + 16},
		{specChunk, 26 + specEncChunk},
		{specChunk + 1, 26 + specEncChunk + 1 + 16},
		{3 * specChunk, 26 + 3*specEncChunk},
		{-1, -1},
		{1 << 62, 1<<62 + 26 + (1<<62/specChunk)*16},
		{1<<63 - 1, -1},
	} {
		if got := envelope.CiphertextSize(tc.in); got != tc.want {
			t.Errorf("CiphertextSize(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
	if envelope.HeaderSize != specHeaderSize || envelope.ChunkSize != specChunk || envelope.PayloadLabel != specLabel {
		t.Error("exported constants differ from the documented format")
	}
}

// TestWritePatterns feeds the Writer in pieces of several sizes: the envelope
// must not depend on how the plaintext was cut into Writes.
func TestWritePatterns(t *testing.T) {
	dek := testKey(2)
	pt := testPlaintext(2*specChunk+1234, 9)
	want := seal(t, dek, pt, fixedRand(1))
	for _, piece := range []int{1, 1000, specChunk - 1, specChunk, specChunk + 1} {
		t.Run(strconv.Itoa(piece), func(t *testing.T) {
			var out bytes.Buffer
			w, err := envelope.NewWriter(&out, dek, fixedRand(1))
			if err != nil {
				t.Fatal(err)
			}
			for p := pt; len(p) > 0; {
				n := min(piece, len(p))
				if k, err := w.Write(p[:n]); err != nil || k != n {
					t.Fatalf("Write = %d, %v", k, err)
				}
				p = p[n:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), want) {
				t.Fatal("envelope depends on the write pattern")
			}
			sum := sha256.Sum256(pt)
			if !bytes.Equal(w.Sum(), sum[:]) {
				t.Fatal("Sum differs")
			}
		})
	}
}

// TestReadPatterns reads through sources that return little at a time, or
// data together with io.EOF, and through io.Copy (WriteTo), and runs the
// standard io.Reader conformance checks.
func TestReadPatterns(t *testing.T) {
	dek := testKey(3)
	for _, size := range []int{0, 1, specChunk, 2*specChunk + 5} {
		pt := testPlaintext(size, 4)
		ct := seal(t, dek, pt, nil)
		sources := map[string]func() io.Reader{
			"one-byte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(ct)) },
			"half":     func() io.Reader { return iotest.HalfReader(bytes.NewReader(ct)) },
			"data-eof": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(ct)) },
		}
		for name, src := range sources {
			t.Run(name+"/"+strconv.Itoa(size), func(t *testing.T) {
				r, err := envelope.NewReader(src(), dek)
				if err != nil {
					t.Fatal(err)
				}
				if err := iotest.TestReader(r, pt); err != nil {
					t.Fatal(err)
				}
			})
		}
		t.Run("copy/"+strconv.Itoa(size), func(t *testing.T) {
			r, err := envelope.NewReader(bytes.NewReader(ct), dek)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			n, err := io.Copy(&out, r)
			if err != nil || n != int64(size) || !bytes.Equal(out.Bytes(), pt) {
				t.Fatalf("io.Copy = %d, %v", n, err)
			}
			if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
				t.Fatalf("Read after the end = %d, %v", n, err)
			}
		})
	}
}

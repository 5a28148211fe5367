package envelope_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/assent-dev/assent/envelope"
)

// The format constants as DESIGN.md and the package documentation state
// them, spelled out independently of the package so that the tests check the
// documented format rather than the code against itself.
const (
	specHeaderSize = 26
	specChunk      = 65536
	specEncChunk   = specChunk + 16
	specLabel      = "assent/payload/v1"
)

// testKey returns a deterministic DEK that differs per seed.
func testKey(seed byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}

// testPlaintext returns n deterministic pseudo-random bytes.
func testPlaintext(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(r.Uint32())
	}
	return p
}

// fixedRand always returns the same bytes, for a known header nonce.
type fixedRand byte

func (f fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(f) + byte(i)
	}
	return len(p), nil
}

// seal encrypts pt in one Write and checks the Writer's accounting.
func seal(t testing.TB, dek, pt []byte, rand io.Reader) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := envelope.NewWriter(&out, dek, rand)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(pt); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(pt)
	if !bytes.Equal(w.Sum(), want[:]) || w.Size() != int64(len(pt)) {
		t.Fatalf("Sum/Size = %x/%d, want %x/%d", w.Sum(), w.Size(), want, len(pt))
	}
	return out.Bytes()
}

var (
	// errNotSticky marks a Reader that changed its answer after an error.
	errNotSticky = errors.New("test: error not sticky")
	// errLeak marks a Reader that left bytes in the caller's buffer on failure.
	errLeak = errors.New("test: failed Read wrote to the buffer")
	// errEmptyRead marks a Read that returned nothing and no error.
	errEmptyRead = errors.New("test: Read returned 0, nil")
)

// readSizes are the two ways a Reader hands out plaintext: an odd size, served
// from its own buffer, and a whole chunk, opened straight into the caller's.
var readSizes = []int{10007, specChunk}

// openAll reads the whole envelope with Reads of readSize and returns all
// plaintext the Reader handed out, even when it then fails. Before each Read
// it fills the buffer with a marker: a failed Read must leave nothing but the
// marker or zeros (no plaintext of a bad chunk, even transiently written), and
// a second Read must return the same error and no data. A Read of nothing
// without an error is a failure too.
func openAll(dek, ct []byte, readSize int) ([]byte, error) {
	r, err := envelope.NewReader(bytes.NewReader(ct), dek)
	if err != nil {
		return nil, err
	}
	var out []byte
	buf := make([]byte, readSize)
	for {
		for i := range buf {
			buf[i] = 0xaa
		}
		n, err := r.Read(buf)
		out = append(out, buf[:n]...)
		if n == 0 && err == nil {
			return out, errEmptyRead
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			if n != 0 || !onlyMarker(buf) {
				return out, fmt.Errorf("%w: %v", errLeak, err)
			}
			if n2, err2 := r.Read(buf); n2 != 0 || err2 != err {
				return out, fmt.Errorf("%w: then %d, %v", errNotSticky, n2, err2)
			}
			return out, err
		}
	}
}

// onlyMarker reports whether buf holds nothing but openAll's marker and zeros.
func onlyMarker(buf []byte) bool {
	for _, c := range buf {
		if c != 0xaa && c != 0 {
			return false
		}
	}
	return true
}

// refChunk is one chunk of a hand-built envelope: any counter, any flag.
type refChunk struct {
	counter uint64
	last    bool
	pt      []byte
}

// refHeader builds a version 1 header from the documented layout.
func refHeader(nonce []byte) []byte {
	h := []byte{'A', 'S', 'N', 'T', 0x01, 0x01, 0x00, 0x01, 0x00, 0x00}
	return append(h, nonce...)
}

// refEnvelope builds an envelope from the documented format alone, with
// whatever chunk sequence the test asks for.
func refEnvelope(t testing.TB, dek, header []byte, chunks []refChunk) []byte {
	t.Helper()
	key, err := hkdf.Key(sha256.New, dek, header[10:26], specLabel, 32)
	if err != nil {
		t.Fatal(err)
	}
	aead := newGCM(t, key)
	out := append([]byte(nil), header...)
	for _, c := range chunks {
		var nonce [12]byte
		binary.BigEndian.PutUint64(nonce[3:11], c.counter)
		if c.last {
			nonce[11] = 0x01
		}
		out = aead.Seal(out, nonce[:], c.pt, header)
	}
	return out
}

// newGCM returns plain AES-GCM under key.
func newGCM(t testing.TB, key []byte) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return aead
}

// refSplit cuts pt into chunks as the format prescribes.
func refSplit(pt []byte) []refChunk {
	var cs []refChunk
	for i := uint64(0); ; i++ {
		n := min(len(pt), specChunk)
		cs = append(cs, refChunk{counter: i, pt: pt[:n]})
		pt = pt[n:]
		if len(pt) == 0 {
			cs[len(cs)-1].last = true
			return cs
		}
	}
}

// sealingSource is an envelope of a given number of identical plaintext
// chunks (endless if negative) that is sealed as it is read, so that neither
// end ever holds more than a chunk or two of it.
type sealingSource struct {
	w      *envelope.Writer
	pt     []byte
	left   int
	closed bool
	out    bytes.Buffer
}

func newSealingSource(t testing.TB, dek []byte, chunks int) *sealingSource {
	t.Helper()
	s := &sealingSource{pt: testPlaintext(specChunk, 99), left: chunks}
	s.out.Grow(2 * specEncChunk) // keep the source's own allocations fixed
	w, err := envelope.NewWriter(&s.out, dek, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.w = w
	return s
}

// sealNext feeds the Writer one more chunk of plaintext, or closes it when
// all are in. (The Writer puts a chunk out once the next one starts.)
func (s *sealingSource) sealNext() error {
	if s.left == 0 {
		s.closed = true
		return s.w.Close()
	}
	s.left--
	_, err := s.w.Write(s.pt)
	return err
}

func (s *sealingSource) Read(p []byte) (int, error) {
	for s.out.Len() == 0 {
		if s.closed {
			return 0, io.EOF
		}
		if err := s.sealNext(); err != nil {
			return 0, err
		}
	}
	return s.out.Read(p)
}

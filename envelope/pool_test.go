package envelope_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/assent-dev/assent/envelope"
)

// TestRecycledBuffersCleared: the chunk buffers a finished Writer or Reader
// gives back hold none of its plaintext and are given back once, whether it
// finished by Close, by reading to the end, or by failing; and a finished
// Reader touches them no more (its later calls fail with its sticky error).
func TestRecycledBuffersCleared(t *testing.T) {
	dek := bytes.Repeat([]byte{7}, envelope.KeySize)
	pt := bytes.Repeat([]byte{0xff}, 3*envelope.WriterChunkBuffers*envelope.ChunkSize/2+5)
	ct := bytes.NewBuffer(seal(t, dek, pt, nil))
	checkPools(t, "after the Writer")

	r, err := envelope.NewReader(bytes.NewReader(ct.Bytes()), dek)
	if err != nil {
		t.Fatal(err)
	}
	back, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(back, pt) {
		t.Fatalf("open: %v", err)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("Read after the end: %d, %v", n, err)
	}
	r.Close() // stops it a second time: its buffer went back once
	if _, err := r.Read(make([]byte, 10)); err != envelope.ErrClosed {
		t.Fatalf("Read after Close: %v", err)
	}
	checkPools(t, "after the Reader")

	// A Reader that fails (a flipped byte) and one closed half-way.
	bad := bytes.Clone(ct.Bytes())
	bad[envelope.HeaderSize+10] ^= 1
	r, err = envelope.NewReader(bytes.NewReader(bad), dek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(r); err != envelope.ErrCorrupt {
		t.Fatalf("tampered: %v", err)
	}
	r, err = envelope.NewReader(bytes.NewReader(ct.Bytes()), dek)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := r.Read(make([]byte, 10)); err != envelope.ErrClosed {
		t.Fatalf("Read after Close: %v", err)
	}
	checkPools(t, "after the failed and closed Readers")
}

// checkPools takes buffers from both pools and fails on any nonzero byte
// or on a buffer handed out twice (given back twice), then gives them back.
func checkPools(t *testing.T, when string) {
	t.Helper()
	seen := map[*byte]bool{}
	var plains, sealeds [][]byte
	for range 2 * envelope.WriterChunkBuffers {
		p, s := envelope.TakePooled()
		if !allZero(p) {
			t.Fatalf("%s: a recycled plaintext buffer holds data", when)
		}
		if !allZero(s) {
			t.Fatalf("%s: a recycled sealed buffer holds data", when)
		}
		for _, b := range [][]byte{p, s[:1]} {
			if seen[&b[0]] {
				t.Fatalf("%s: a buffer recycled twice", when)
			}
			seen[&b[0]] = true
		}
		plains, sealeds = append(plains, p), append(sealeds, s)
	}
	for i := range plains {
		envelope.ReturnPooled(plains[i], sealeds[i])
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

package envelope_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/assent-dev/assent/envelope"
)

// TestConcurrentDigest: the digest the hashing goroutine computes over the
// Writer's chunk buffers is the SHA-256 of the plaintext, for sizes on and
// around the first chunk boundaries and around every group boundary of the
// two-group ring (each group refilled several times, the last one full,
// partial or of one byte), whatever the write pattern, and the envelope
// still opens.
func TestConcurrentDigest(t *testing.T) {
	dek := testKey(7)
	group := envelope.WriterChunkBuffers / 2
	var ks []int
	for k := range 4 {
		ks = append(ks, k)
	}
	for g := 1; g <= 5; g++ {
		ks = append(ks, g*group-1, g*group, g*group+1)
	}
	var sizes []int
	for _, k := range ks {
		for _, d := range []int{-1, 0, 1} {
			if n := k*specChunk + d; n >= 0 {
				sizes = append(sizes, n)
			}
		}
	}
	for _, n := range sizes {
		pt := testPlaintext(n, uint64(n))
		want := sha256.Sum256(pt)
		for _, step := range []int{n + 1, specChunk, 1000, 1} {
			if step == 1 && n > 2*specChunk+1 {
				continue // byte-by-byte writes of the larger sizes add nothing but time
			}
			var ct bytes.Buffer
			w, err := envelope.NewWriter(&ct, dek, nil)
			if err != nil {
				t.Fatal(err)
			}
			for p := pt; len(p) > 0; {
				k := min(step, len(p))
				if _, err := w.Write(p[:k]); err != nil {
					t.Fatal(err)
				}
				p = p[k:]
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := w.Sum(); !bytes.Equal(got, want[:]) {
				t.Fatalf("size %d, writes of %d: digest %x, want %x", n, step, got, want)
			}
			back, err := openAll(dek, ct.Bytes(), 4096)
			if err != nil || !bytes.Equal(back, pt) {
				t.Fatalf("size %d, writes of %d: open: %v", n, step, err)
			}
		}
	}
}

// waitGoroutines waits until no more goroutines run than before, forcing
// collections so that the cleanup of a dropped Writer runs.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), before)
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

// TestHasherStops: the hashing goroutine ends when the Writer closes, when
// its destination fails in the middle of the stream (the error reaches the
// caller and is sticky), and when a Writer is dropped unfinished.
func TestHasherStops(t *testing.T) {
	dek := testKey(8)
	group := envelope.WriterChunkBuffers / 2
	pt := testPlaintext((2*group+3)*specChunk+3, 8) // past both groups
	before := runtime.NumGoroutine()

	for range 20 {
		w, err := envelope.NewWriter(io.Discard, dek, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(pt)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	waitGoroutines(t, before)

	for _, limit := range []int{specHeaderSize + 10, specHeaderSize + specEncChunk + 1, specHeaderSize + 3*specEncChunk, specHeaderSize + (group+2)*specEncChunk, specHeaderSize + (2*group+1)*specEncChunk} {
		w, err := envelope.NewWriter(&failWriter{limit: limit}, dek, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(pt); !errors.Is(err, errDisk) {
			t.Fatalf("limit %d: Write: %v", limit, err)
		}
		if err := w.Close(); !errors.Is(err, errDisk) {
			t.Fatalf("limit %d: Close: %v", limit, err)
		}
		if w.Sum() != nil {
			t.Fatalf("limit %d: digest of a failed envelope", limit)
		}
	}
	waitGoroutines(t, before)

	for range 20 {
		w, err := envelope.NewWriter(io.Discard, dek, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(pt) // and never Close
	}
	waitGoroutines(t, before)
}

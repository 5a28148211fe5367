package envelope_test

import (
	"io"
	"runtime"
	"testing"

	"github.com/assent-dev/assent/envelope"
)

// TestSteadyStateAllocs: once running, sealing and opening a chunk allocate
// nothing.
func TestSteadyStateAllocs(t *testing.T) {
	dek := testKey(1)
	chunk := testPlaintext(specChunk, 1)
	w, err := envelope.NewWriter(io.Discard, dek, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(50, func() { w.Write(chunk) }); a != 0 {
		t.Errorf("Writer: %v allocations per chunk", a)
	}

	// The source seals a chunk whenever the Reader needs one: its own
	// allocations count too, and must also be none.
	r, err := envelope.NewReader(newSealingSource(t, dek, -1), dek)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, specChunk)
	if a := testing.AllocsPerRun(50, func() {
		if n, err := io.ReadFull(r, buf); n != specChunk || err != nil {
			t.Fatal(n, err)
		}
	}); a != 0 {
		t.Errorf("Reader: %v allocations per chunk", a)
	}
}

// TestMemoryBounded seals and opens 64 MiB and checks that each side
// allocates, in all, its chunk buffers and a little fixed state: nothing
// grows with the record. The Reader holds one chunk; the Writer two groups
// of plaintext chunks (one hashed while the other fills), one sealed chunk
// and the hasher goroutine.
func TestMemoryBounded(t *testing.T) {
	const chunks = 1024 // 64 MiB
	const bound = 2 * specChunk
	const sealBound = (envelope.WriterChunkBuffers+1)*specChunk + 24<<10
	dek := testKey(2)
	chunk := testPlaintext(specChunk, 2)

	allocated := func(f func()) uint64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		n := after.TotalAlloc - before.TotalAlloc
		t.Logf("allocated %d bytes", n)
		return n
	}

	if n := allocated(func() {
		w, err := envelope.NewWriter(io.Discard, dek, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range chunks {
			w.Write(chunk)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}); n > sealBound {
		t.Errorf("sealing 64 MiB allocated %d bytes, want at most %d", n, sealBound)
	}

	// The source's Writer seals as the Reader reads: both allocate nothing
	// per chunk, so what is counted is the Reader's own state once the
	// source's Writer has made all its chunk buffers (once it has filled
	// both of its groups).
	src := newSealingSource(t, dek, chunks)
	for range envelope.WriterChunkBuffers + 1 {
		if err := src.sealNext(); err != nil {
			t.Fatal(err)
		}
	}
	if n := allocated(func() {
		r, err := envelope.NewReader(src, dek)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, r)
		if err != nil || n != chunks*specChunk {
			t.Fatal(n, err)
		}
	}); n > bound {
		t.Errorf("opening 64 MiB allocated %d bytes, want at most %d", n, bound)
	}
}

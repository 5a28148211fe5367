package envelope

import (
	"crypto/sha256"
	"hash"
	"runtime"
	"sync"
)

// ringSize is the number of plaintext chunk buffers a Writer owns. Two are
// enough for the hasher and the sealer to overlap: while the hasher reads one
// full chunk, the sealer reads the same chunk (AES-GCM does not write to its
// input here) and the Writer fills the other. A third would only absorb
// jitter, at 64 KiB more per upload.
const ringSize = 2

// hasher computes the SHA-256 of a Writer's plaintext in its own goroutine,
// over the Writer's own chunk buffers: a full chunk goes in on work and comes
// back on free once hashed, so the Writer never refills a buffer the hasher
// still reads, and nothing is copied. The chunks arrive in order on one
// channel, so the digest is that of the plaintext in order.
//
// The goroutine starts with the first full chunk that is not the final one
// (a record of one chunk is hashed inline and starts nothing) and ends when
// the Writer finishes, fails, or is dropped without Close: a cleanup on the
// Writer closes work, and the goroutine holds no reference to the Writer.
type hasher struct {
	h    hash.Hash
	work chan []byte
	free chan []byte
	done chan struct{} // closed when the goroutine has returned
	stop sync.Once
}

// startHasher starts the goroutine for w and registers the cleanup that
// stops it if w is dropped unfinished.
func startHasher(w *Writer) *hasher {
	hs := &hasher{
		h:    w.hash,
		work: make(chan []byte, ringSize),
		free: make(chan []byte, ringSize),
		done: make(chan struct{}),
	}
	go hs.run()
	runtime.AddCleanup(w, func(hs *hasher) { hs.close() }, hs)
	return hs
}

func (hs *hasher) run() {
	defer close(hs.done)
	for b := range hs.work {
		hs.h.Write(b)
		hs.free <- b
	}
}

// close ends the goroutine once it has hashed every chunk handed to it and
// waits for it, so that the caller may then read the digest or clear the
// buffers. It is safe to call more than once.
func (hs *hasher) close() {
	hs.stop.Do(func() { close(hs.work) })
	<-hs.done
}

// newHash is the plaintext digest (DESIGN.md: content_sha256).
func newHash() hash.Hash { return sha256.New() }

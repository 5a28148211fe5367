package envelope

import (
	"crypto/sha256"
	"hash"
	"runtime"
	"sync"

	"github.com/assent-dev/assent/internal/secret"
)

// groupChunks is the number of plaintext chunks the Writer hands the hasher
// at once. Handing over one chunk at a time costs two goroutine wake-ups per
// 64 KiB; on two cores those hand-offs cost more than the overlap gains
// (measured: the seal ran at 0.65x SHA-256 alone with one chunk per hand-off).
// Eight chunks per hand-off (about 300 µs of hashing) make the wake-ups rare
// enough that sealing runs at the speed of SHA-256 even where waking a
// thread takes tens of microseconds (a virtual machine), for 1 MiB of
// plaintext buffers per Writer of a large record (two groups); a record that
// never fills a group allocates only the chunks it uses.
const groupChunks = 8

// ringSize is the number of chunk groups a Writer owns: one hashed while the
// other fills and is sealed. A third would only absorb jitter.
const ringSize = 2

// group is a set of chunk buffers that moves between the Writer and the
// hasher as one: parts holds the plaintext of each chunk filled, in order,
// when the group is handed over.
type group struct {
	bufs  [groupChunks][]byte
	parts [groupChunks][]byte
	used  int // number of parts set
}

// hasher computes the SHA-256 of a Writer's plaintext in its own goroutine,
// over the Writer's own chunk buffers: a group of full chunks goes in on
// work and comes back on free once hashed, so the Writer never refills a
// buffer the hasher still reads, and nothing is copied. The groups arrive in
// order on one channel, so the digest is that of the plaintext in order.
//
// The goroutine starts with the first full group that does not end the
// record (a record that never fills a group is hashed inline and starts
// nothing) and ends when the Writer finishes, fails, or is dropped without
// Close: a cleanup on the Writer closes work, and the goroutine holds no
// reference to the Writer.
type hasher struct {
	h    hash.Hash
	work chan *group
	free chan *group
	done chan struct{} // closed when the goroutine has returned
	stop sync.Once
}

// startHasher starts the goroutine for w and registers the cleanup that
// stops it if w is dropped unfinished.
func startHasher(w *Writer) *hasher {
	hs := &hasher{
		h:    w.hash,
		work: make(chan *group, ringSize),
		free: make(chan *group, ringSize),
		done: make(chan struct{}),
	}
	go hs.run()
	runtime.AddCleanup(w, func(hs *hasher) { hs.close() }, hs)
	return hs
}

func (hs *hasher) run() {
	defer close(hs.done)
	for g := range hs.work {
		for _, p := range g.parts[:g.used] {
			hs.h.Write(p)
		}
		hs.free <- g
	}
}

// close ends the goroutine once it has hashed every group handed to it and
// waits for it, so that the caller may then read the digest or clear the
// buffers. It is safe to call more than once.
func (hs *hasher) close() {
	hs.stop.Do(func() { close(hs.work) })
	<-hs.done
}

// newHash is the plaintext digest (DESIGN.md: content_sha256).
func newHash() hash.Hash { return sha256.New() }

// Chunk buffers are recycled: a Writer or Reader of a small record would
// otherwise allocate, zero and later collect 64 KiB or more per record, a
// large allocation each (measured in the server: a tenth of an upload's CPU
// for a 4 KiB record). A buffer goes back to its pool only once cleared and
// once its owner has stopped and holds it no more.
var (
	plainPool  = sync.Pool{New: func() any { return new([ChunkSize]byte) }}
	sealedPool = sync.Pool{New: func() any { return new([encChunkSize + 1]byte) }}
)

// getPlain returns a plaintext chunk buffer of ChunkSize bytes.
func getPlain() []byte { return plainPool.Get().(*[ChunkSize]byte)[:] }

// putPlain clears b, a buffer of getPlain, and recycles it.
func putPlain(b []byte) {
	secret.Clear(b)
	plainPool.Put((*[ChunkSize]byte)(b))
}

// getSealed returns a buffer for one sealed chunk and a byte more, empty,
// with its whole capacity.
func getSealed() []byte { return sealedPool.Get().(*[encChunkSize + 1]byte)[:0] }

// putSealed clears b, a buffer of getSealed, and recycles it.
func putSealed(b []byte) {
	b = b[:cap(b)]
	secret.Clear(b)
	sealedPool.Put((*[encChunkSize + 1]byte)(b))
}

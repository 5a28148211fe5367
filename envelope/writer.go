package envelope

import (
	"crypto/cipher"
	cryptorand "crypto/rand"
	"fmt"
	"hash"
	"io"
)

// Writer seals a plaintext stream into an envelope. It fills one chunk at a
// time: a full chunk is sealed and written once the next byte arrives (or
// with the final flag by Close), so that the final chunk is known when it is
// sealed. Once a group of chunks has filled, a second goroutine hashes the
// group's buffers while the Writer seals and fills the next group, so that
// sealing runs at the speed of the slower of SHA-256 and AES-GCM rather than
// of their sum; the Writer owns at most two groups of plaintext chunk buffers
// and one sealed chunk buffer, whatever the size of the record.
// A Writer is not safe for concurrent use.
type Writer struct {
	dst    io.Writer
	aead   cipher.AEAD
	header [HeaderSize]byte
	nonce  streamNonce
	// cur is the group being filled; buf is its chunk ci, holding the
	// plaintext of the current chunk in buf[:n].
	cur *group
	ci  int
	buf []byte
	n   int
	// ring holds every group the Writer has made, to be cleared when it
	// stops; the second is made with the hasher.
	ring [ringSize]*group
	// out receives the sealed chunk: sealing cannot be done in place
	// while the hasher may still read the plaintext.
	out  []byte
	hash hash.Hash
	hs   *hasher // nil until the first full group
	size int64
	sum  []byte
	err  error // sticky: the first write error, or ErrClosed
}

// NewWriter writes the header of a new envelope to dst and returns a Writer
// that seals what is written to it under dek. It draws the header nonce from
// rand (crypto/rand.Reader if rand is nil). dek is not retained: the caller
// still owns it and clears it.
//
// It returns ErrKeySize for a dek that is not KeySize bytes, and wraps the
// error of rand or of dst.
func NewWriter(dst io.Writer, dek []byte, rand io.Reader) (*Writer, error) {
	if len(dek) != KeySize {
		return nil, ErrKeySize
	}
	if rand == nil {
		rand = cryptorand.Reader
	}
	w := &Writer{dst: dst}
	copy(w.header[:], headerPrefix[:])
	if _, err := io.ReadFull(rand, w.header[len(headerPrefix):]); err != nil {
		return nil, fmt.Errorf("envelope: reading header nonce: %w", err)
	}
	aead, err := newAEAD(dek, &w.header)
	if err != nil {
		return nil, err
	}
	if err := writeAll(dst, w.header[:]); err != nil {
		return nil, err
	}
	w.aead = aead
	w.ring[0] = new(group)
	w.cur = w.ring[0]
	w.buf = w.cur.chunk(0)
	w.out = getSealed()
	w.hash = newHash()
	return w, nil
}

// Write buffers p, sealing and writing each chunk that fills. It returns the
// number of bytes of p taken in; bytes taken in may still be in the buffer
// until a later Write or Close. After an error every call fails with that
// error; after Close it fails with ErrClosed.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	taken := 0
	for len(p) > 0 {
		if w.n == ChunkSize {
			if err := w.flush(false); err != nil {
				return taken, err
			}
		}
		k := copy(w.buf[w.n:ChunkSize], p)
		w.n += k
		w.size += int64(k)
		taken += k
		p = p[k:]
	}
	return taken, nil
}

// Close seals and writes the final chunk. It does not close dst. After Close,
// Sum returns the SHA-256 of the plaintext. A second Close returns ErrClosed;
// a Close after a failed Write returns that Write's error.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if err := w.flush(true); err != nil {
		return err
	}
	if w.hs != nil {
		w.hs.close()
	}
	w.sum = w.hash.Sum(nil)
	w.stop(ErrClosed)
	return nil
}

// Sum returns the SHA-256 of the plaintext, a fresh 32-byte slice, once Close
// has succeeded; before that, or if the envelope could not be finished, it
// returns nil.
func (w *Writer) Sum() []byte {
	if w.sum == nil {
		return nil
	}
	return append([]byte(nil), w.sum...)
}

// Size returns the number of plaintext bytes taken in so far.
func (w *Writer) Size() int64 { return w.size }

// flush seals buf[:n] into out and writes it. A chunk that completes its
// group, or the final chunk, first hands the group to the hasher (started
// with the first full group that is not the last); a final chunk of a record
// that never filled a group is hashed inline with the rest of its group: a
// small record starts no goroutine. A non-final chunk then takes the next
// buffer of its group, or the next free group. A non-final chunk must leave
// a counter for the chunk that follows it.
func (w *Writer) flush(last bool) error {
	plain := w.buf[:w.n]
	g := w.cur
	g.parts[w.ci] = plain
	g.used = w.ci + 1
	full := g.used == groupChunks
	switch {
	case w.hs != nil && (full || last):
		w.hs.work <- g
	case last:
		for _, p := range g.parts[:g.used] {
			w.hash.Write(p)
		}
	case full:
		w.hs = startHasher(w)
		for i := 1; i < ringSize; i++ {
			w.ring[i] = new(group)
			w.hs.free <- w.ring[i]
		}
		w.hs.work <- g
	}
	if last {
		w.nonce.setLast()
	}
	chunk := w.aead.Seal(w.out[:0], w.nonce[:], plain, w.header[:])
	if !last && !w.nonce.next() {
		w.stop(ErrTooLong)
		return ErrTooLong
	}
	if err := writeAll(w.dst, chunk); err != nil {
		w.stop(err)
		return err
	}
	if !last {
		if full {
			w.cur = <-w.hs.free
			w.ci = 0
		} else {
			w.ci++
		}
		w.buf = w.cur.chunk(w.ci)
		w.n = 0
	}
	return nil
}

// chunk returns the group's buffer i, taken from the pool on first use.
func (g *group) chunk(i int) []byte {
	if g.bufs[i] == nil {
		g.bufs[i] = getPlain()
	}
	return g.bufs[i]
}

// stop makes err sticky, waits for the hasher to let go of the buffers, and
// drops the key schedule and the buffered plaintext.
func (w *Writer) stop(err error) {
	w.err = err
	w.aead = nil
	if w.hs != nil {
		w.hs.close()
	}
	// The hasher has let go: the buffers are clear to recycle, and the
	// Writer holds none of them any more (every method checks err first).
	for _, g := range w.ring {
		if g == nil {
			continue
		}
		for i, b := range g.bufs {
			if b != nil {
				putPlain(b)
				g.bufs[i] = nil
			}
		}
		clear(g.parts[:])
	}
	w.ring = [ringSize]*group{}
	w.cur, w.buf, w.n = nil, nil, 0
	if w.out != nil {
		putSealed(w.out)
		w.out = nil
	}
}

// writeAll writes b to dst, turning a short write into an error.
func writeAll(dst io.Writer, b []byte) error {
	n, err := dst.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("envelope: writing: %w", err)
	}
	return nil
}

package envelope

import (
	"crypto/cipher"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"

	"github.com/assent-dev/assent/internal/secret"
)

// Writer seals a plaintext stream into an envelope. It buffers at most one
// chunk: a full chunk is sealed and written once the next byte arrives (or
// with the final flag by Close), so that the final chunk is known when it is
// sealed. A Writer is not safe for concurrent use.
type Writer struct {
	dst    io.Writer
	aead   cipher.AEAD
	header [HeaderSize]byte
	nonce  streamNonce
	// buf holds the plaintext of the current chunk in buf[:n]; its capacity
	// leaves room for the tag so that the chunk is sealed in place.
	buf  []byte
	n    int
	hash hash.Hash
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
	w.buf = make([]byte, 0, encChunkSize)[:ChunkSize]
	w.hash = sha256.New()
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
		w.hash.Write(p[:k])
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

// flush seals buf[:n] in place and writes it. A non-final chunk must leave a
// counter for the chunk that follows it.
func (w *Writer) flush(last bool) error {
	if last {
		w.nonce.setLast()
	}
	chunk := w.aead.Seal(w.buf[:0], w.nonce[:], w.buf[:w.n], w.header[:])
	w.n = 0
	if !last && !w.nonce.next() {
		w.stop(ErrTooLong)
		return ErrTooLong
	}
	if err := writeAll(w.dst, chunk); err != nil {
		w.stop(err)
		return err
	}
	return nil
}

// stop makes err sticky and drops the key schedule and the buffered plaintext.
func (w *Writer) stop(err error) {
	w.err = err
	w.aead = nil
	secret.Clear(w.buf[:cap(w.buf)])
	w.n = 0
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

package envelope

import (
	"crypto/cipher"
	"errors"
	"fmt"
	"io"

	"github.com/assent-dev/assent/internal/secret"
)

// Reader opens an envelope. It holds one chunk and one byte of the next in
// memory, and returns a chunk's plaintext only after the chunk has been
// authenticated. A Reader is not safe for concurrent use.
type Reader struct {
	src    io.Reader
	aead   cipher.AEAD
	header [HeaderSize]byte
	nonce  streamNonce
	// buf receives a whole chunk and the first byte of the next one; a chunk
	// is opened in place, and plain is the part of its plaintext not yet
	// returned.
	buf      []byte
	plain    []byte
	peek     byte // first byte of the next chunk, if havePeek
	havePeek bool
	last     bool  // the chunk in buf was the final one
	err      error // sticky: ErrCorrupt, a read error of src, io.EOF or ErrClosed
}

// NewReader reads and checks the header of the envelope in src and returns a
// Reader of its plaintext under dek. dek is not retained: the caller still
// owns it and clears it.
//
// It returns ErrKeySize for a dek that is not KeySize bytes, ErrCorrupt for a
// missing or unknown header, and wraps any other read error of src. A wrong
// dek is only noticed by Read, as ErrCorrupt.
func NewReader(src io.Reader, dek []byte) (*Reader, error) {
	if len(dek) != KeySize {
		return nil, ErrKeySize
	}
	r := &Reader{src: src}
	if _, err := io.ReadFull(src, r.header[:]); err != nil {
		return nil, readError(err)
	}
	if [len(headerPrefix)]byte(r.header[:len(headerPrefix)]) != headerPrefix {
		return nil, ErrCorrupt
	}
	aead, err := newAEAD(dek, &r.header)
	if err != nil {
		return nil, err
	}
	r.aead = aead
	r.buf = getSealed()[:encChunkSize+1]
	return r, nil
}

// Read reads plaintext into p. It returns io.EOF only after the final chunk
// has been authenticated and all of its plaintext returned. It returns
// ErrCorrupt, with no plaintext of the offending chunk, for any defect of the
// envelope (see the package documentation), a wrapped error for a read error
// of the source, and ErrClosed after Close. Once Read has returned an error,
// every later call returns the same error.
//
// A p of ChunkSize bytes or more receives a whole chunk, opened straight into
// it without a copy; if that chunk fails, Read may have overwritten the start
// of p with zeros.
func (r *Reader) Read(p []byte) (int, error) {
	if len(p) == 0 && len(r.plain) == 0 {
		return 0, r.err
	}
	if len(p) >= ChunkSize && len(r.plain) == 0 && r.err == nil && !r.last {
		// Room for a whole chunk: open it straight into p, saving a copy.
		plain, err := r.openChunk(p[:0])
		if err != nil {
			r.stop(err)
			return 0, err
		}
		if len(plain) == 0 {
			// The empty final chunk of an empty plaintext: report the end
			// now rather than a read of nothing.
			return 0, r.fill()
		}
		return len(plain), nil
	}
	if err := r.fill(); err != nil {
		return 0, err
	}
	n := copy(p, r.plain)
	r.plain = r.plain[n:]
	return n, nil
}

// WriteTo writes the plaintext to w until the final chunk has been returned,
// without an intermediate buffer; io.Copy uses it. Errors are as for Read,
// or the wrapped write error of w, which does not spoil the Reader.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if err := r.fill(); err == io.EOF {
			return total, nil
		} else if err != nil {
			return total, err
		}
		n, err := w.Write(r.plain)
		if n < 0 || n > len(r.plain) {
			n, err = 0, errInvalidWrite
		}
		total += int64(n)
		r.plain = r.plain[n:]
		if err == nil && len(r.plain) > 0 {
			err = io.ErrShortWrite
		}
		if err != nil {
			return total, fmt.Errorf("envelope: writing: %w", err)
		}
	}
}

// Close drops the key schedule and clears the buffered plaintext. Later calls
// to Read return ErrClosed, or the error Read had already returned. It does
// not close the source, and always returns nil.
func (r *Reader) Close() error {
	if r.err == nil || r.err == io.EOF {
		r.stop(ErrClosed)
	}
	return nil
}

// fill makes sure r.plain holds plaintext, opening the next chunk if needed.
// It returns io.EOF after the final chunk's plaintext has all been returned.
func (r *Reader) fill() error {
	for len(r.plain) == 0 {
		if r.err != nil {
			return r.err
		}
		if r.last {
			r.stop(io.EOF)
			return io.EOF
		}
		plain, err := r.openChunk(r.buf[:0])
		if err != nil {
			r.stop(err)
			return err
		}
		r.plain = plain
	}
	return nil
}

// openChunk reads the next chunk and one byte past it, then opens it into
// dst, which is either r.buf[:0] (in place) or has room for ChunkSize bytes.
// A full chunk followed by more bytes must not be final; anything shorter, or
// a full chunk at the end of the stream, must be.
func (r *Reader) openChunk(dst []byte) ([]byte, error) {
	n := 0
	if r.havePeek {
		r.buf[0] = r.peek
		n = 1
	}
	m, err := io.ReadFull(r.src, r.buf[n:])
	n += m
	switch err {
	case nil:
		r.peek, r.havePeek = r.buf[encChunkSize], true
		n = encChunkSize
	case io.EOF, io.ErrUnexpectedEOF:
		r.havePeek = false
		r.last = true
	default:
		return nil, readError(err)
	}
	// Only an empty plaintext ends with an empty chunk, and it is chunk 0.
	if n < Overhead || n == Overhead && !r.nonce.isFirst() {
		return nil, ErrCorrupt
	}
	if r.last {
		r.nonce.setLast()
	}
	plain, err := r.aead.Open(dst, r.nonce[:], r.buf[:n], r.header[:])
	if err != nil {
		// cipher.AEAD may have written to dst; crypto/cipher clears it,
		// and so does this, whatever the implementation.
		secret.Clear(dst[:n-Overhead])
		return nil, ErrCorrupt
	}
	if !r.last && !r.nonce.next() {
		// No chunk can follow the largest counter, and this one is not final.
		secret.Clear(plain)
		return nil, ErrCorrupt
	}
	return plain, nil
}

// stop makes err sticky and drops the key schedule and any plaintext.
func (r *Reader) stop(err error) {
	r.err = err
	r.aead = nil
	r.plain = nil
	if r.buf != nil {
		putSealed(r.buf)
		r.buf = nil
	}
}

// readError maps the end of the source to ErrCorrupt (the envelope is
// truncated) and wraps any other read error, which is the source's fault and
// not a defect of the envelope.
func readError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return ErrCorrupt
	}
	return fmt.Errorf("envelope: reading: %w", err)
}

package threshold

import (
	"encoding/binary"
	"fmt"
)

// LP appends lp(s) = u16be(len(s)) || s to dst and returns the result. It
// returns ErrTooLong, and nil, when s is over 65535 bytes.
func LP(dst, s []byte) ([]byte, error) {
	e := encoder{buf: dst}
	lp(&e, "field", s)
	return e.result()
}

// encoder appends fields to a buffer and keeps the first error, so that a
// byte layout reads as the plain list of its fields.
type encoder struct {
	buf []byte
	err error
}

// lp appends lp(s), naming the field in the error if s is too long.
func lp[T string | []byte](e *encoder, name string, s T) {
	if e.err != nil {
		return
	}
	if len(s) > maxField {
		e.err = fmt.Errorf("%w: %s is %d bytes", ErrTooLong, name, len(s))
		return
	}
	e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(len(s)))
	e.buf = append(e.buf, s...)
}

// lpConcat appends lp(elems[0] || elems[1] || ...) without building the
// concatenation first.
func lpConcat(e *encoder, name string, elems [][]byte) {
	if e.err != nil {
		return
	}
	n := 0
	for _, el := range elems {
		n += len(el)
	}
	if n > maxField {
		e.err = fmt.Errorf("%w: %s is %d bytes", ErrTooLong, name, n)
		return
	}
	e.buf = binary.BigEndian.AppendUint16(e.buf, uint16(n))
	for _, el := range elems {
		e.buf = append(e.buf, el...)
	}
}

func (e *encoder) raw(b ...byte) {
	if e.err == nil {
		e.buf = append(e.buf, b...)
	}
}

func (e *encoder) u32(v uint32) {
	if e.err == nil {
		e.buf = binary.BigEndian.AppendUint32(e.buf, v)
	}
}

func (e *encoder) u64(v uint64) {
	if e.err == nil {
		e.buf = binary.BigEndian.AppendUint64(e.buf, v)
	}
}

func (e *encoder) result() ([]byte, error) {
	if e.err != nil {
		return nil, e.err
	}
	return e.buf, nil
}

// newEncoder returns an encoder whose buffer starts with label and has room
// for size more bytes.
func newEncoder(label string, size int) encoder {
	buf := make([]byte, 0, len(label)+size)
	return encoder{buf: append(buf, label...)}
}

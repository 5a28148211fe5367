package oprf

import (
	"bytes"
	"fmt"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/zk/dleq"
)

// parseElement decodes one wire element: exactly ElementSize bytes, the
// canonical ristretto255 encoding of a point other than the identity.
func parseElement(b []byte) (group.Element, error) {
	if len(b) != ElementSize {
		return nil, fmt.Errorf("%w: element of %d bytes, want %d", ErrEncoding, len(b), ElementSize)
	}
	e := suiteGroup.NewElement()
	if err := e.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%w: not a ristretto255 element", ErrEncoding)
	}
	if e.IsIdentity() {
		return nil, fmt.Errorf("%w: identity element", ErrEncoding)
	}
	// The decoder already rejects non-canonical encodings (RFC 9496 Section
	// 4.3.1); comparing with the re-encoding keeps that a property of this
	// package rather than of one library version.
	enc, err := e.MarshalBinaryCompress()
	if err != nil || !bytes.Equal(enc, b) {
		return nil, fmt.Errorf("%w: non-canonical element", ErrEncoding)
	}
	return e, nil
}

// checkBatch enforces 1 <= n <= MaxBatch.
func checkBatch(n int) error {
	if n < 1 || n > MaxBatch {
		return fmt.Errorf("%w: %d elements, want 1 to %d", ErrBatch, n, MaxBatch)
	}
	return nil
}

// parseElements decodes a batch of wire elements.
func parseElements(bs [][]byte) ([]group.Element, error) {
	if err := checkBatch(len(bs)); err != nil {
		return nil, err
	}
	out := make([]group.Element, len(bs))
	for i, b := range bs {
		e, err := parseElement(b)
		if err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		out[i] = e
	}
	return out, nil
}

// encodeElements encodes a batch of elements for the wire.
func encodeElements(es []group.Element) ([][]byte, error) {
	out := make([][]byte, len(es))
	for i, e := range es {
		b, err := e.MarshalBinaryCompress()
		if err != nil {
			return nil, fmt.Errorf("%w: encoding element %d: %v", ErrEncoding, i, err)
		}
		out[i] = b
	}
	return out, nil
}

// parseScalar decodes exactly ScalarSize bytes holding a canonical
// (reduced) little-endian scalar other than zero.
func parseScalar(b []byte) (group.Scalar, error) {
	if len(b) != ScalarSize {
		return nil, fmt.Errorf("%w: scalar of %d bytes, want %d", ErrEncoding, len(b), ScalarSize)
	}
	s := suiteGroup.NewScalar()
	if err := s.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%w: non-canonical scalar", ErrEncoding)
	}
	if s.IsZero() {
		return nil, fmt.Errorf("%w: zero scalar", ErrEncoding)
	}
	return s, nil
}

// parseScalars decodes a batch of scalars (blinds).
func parseScalars(bs [][]byte) ([]group.Scalar, error) {
	if err := checkBatch(len(bs)); err != nil {
		return nil, err
	}
	out := make([]group.Scalar, len(bs))
	for i, b := range bs {
		s, err := parseScalar(b)
		if err != nil {
			clearScalars(out...)
			return nil, fmt.Errorf("scalar %d: %w", i, err)
		}
		out[i] = s
	}
	return out, nil
}

// parseProof decodes a DLEQ proof c || s, both canonical non-zero scalars.
func parseProof(b []byte) (*dleq.Proof, error) {
	if len(b) != ProofSize {
		return nil, fmt.Errorf("%w: proof of %d bytes, want %d", ErrEncoding, len(b), ProofSize)
	}
	for _, half := range [][]byte{b[:ScalarSize], b[ScalarSize:]} {
		if _, err := parseScalar(half); err != nil {
			return nil, fmt.Errorf("proof: %w", err)
		}
	}
	p := new(dleq.Proof)
	if err := p.UnmarshalBinary(suiteGroup, b); err != nil {
		return nil, fmt.Errorf("%w: proof: %v", ErrEncoding, err)
	}
	return p, nil
}

// clearScalars zeroes scalars in place (best effort, see internal/secret).
func clearScalars(ss ...group.Scalar) {
	for _, s := range ss {
		if s != nil {
			s.SetUint64(0)
		}
	}
}

// clearElements sets elements to the identity (best effort, as
// clearScalars) once they hold a secret such as an unblinded evaluation.
func clearElements(es ...group.Element) {
	for _, e := range es {
		if e != nil {
			e.Set(suiteGroup.Identity())
		}
	}
}

// checkLength enforces the two-byte length framing of RFC 9497 on a private
// input or an info string.
func checkLength(what string, b []byte) error {
	if len(b) > MaxInputSize {
		return fmt.Errorf("%w: %s of %d bytes, limit %d", ErrTooLong, what, len(b), MaxInputSize)
	}
	return nil
}

// ConcatElements returns the wire elements joined in order: the
// "concatenated blinded elements" of Assent's signed statements. It copies
// the bytes as they are; the elements come from Blinding.Elements or were
// checked by one of this package's functions.
func ConcatElements(elems [][]byte) []byte {
	n := 0
	for _, e := range elems {
		n += len(e)
	}
	out := make([]byte, 0, n)
	for _, e := range elems {
		out = append(out, e...)
	}
	return out
}

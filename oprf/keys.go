package oprf

import (
	"bytes"
	"fmt"
	"io"

	"github.com/cloudflare/circl/group"
)

// PrivateKey is an RFC 9497 private key: a non-zero scalar. The same type
// serves as a POPRF key (the device share) and a base-mode OPRF key (the
// server share). Its methods are safe for concurrent use, except Destroy.
type PrivateKey struct {
	k   group.Scalar
	pub *PublicKey
}

// PublicKey is an RFC 9497 public key: G * k, never the identity.
type PublicKey struct {
	e   group.Element
	enc []byte
}

// GenerateKey returns a fresh private key drawn from rand (crypto/rand in
// production). It fails only if rand fails.
func GenerateKey(rand io.Reader) (*PrivateKey, error) {
	k, err := randomScalar(rand)
	if err != nil {
		return nil, err
	}
	return newPrivateKey(k)
}

// ParsePrivateKey decodes a private key as Bytes writes it: exactly
// ScalarSize bytes, a canonical little-endian scalar, not zero. Any other
// input gives ErrEncoding. The caller keeps ownership of b and may clear it.
func ParsePrivateKey(b []byte) (*PrivateKey, error) {
	k, err := parseScalar(b)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return newPrivateKey(k)
}

func newPrivateKey(k group.Scalar) (*PrivateKey, error) {
	pub, err := newPublicKey(suiteGroup.NewElement().MulGen(k))
	if err != nil {
		clearScalars(k)
		return nil, err
	}
	return &PrivateKey{k: k, pub: pub}, nil
}

// scalar returns the key's scalar, or ErrDestroyed after Destroy.
func (k *PrivateKey) scalar() (group.Scalar, error) {
	if k == nil || k.k == nil {
		return nil, ErrDestroyed
	}
	return k.k, nil
}

// Bytes returns the ScalarSize-byte encoding of the key in a fresh slice
// that the caller should clear (internal/secret) when done. It returns nil
// after Destroy.
func (k *PrivateKey) Bytes() []byte {
	s, err := k.scalar()
	if err != nil {
		return nil
	}
	b, err := s.MarshalBinary()
	if err != nil {
		return nil
	}
	return b
}

// Public returns the public key (also after Destroy). It returns nil for a
// nil or zero-value key.
func (k *PrivateKey) Public() *PublicKey {
	if k == nil {
		return nil
	}
	return k.pub
}

// Destroy overwrites the scalar (best effort: earlier copies made by the
// runtime are out of reach) and makes every later evaluation fail with
// ErrDestroyed. It must not run concurrently with other methods.
func (k *PrivateKey) Destroy() {
	if k == nil || k.k == nil {
		return
	}
	clearScalars(k.k)
	k.k = nil
}

// ParsePublicKey decodes a public key: exactly ElementSize bytes, the
// canonical ristretto255 encoding of a point other than the identity. Any
// other input gives ErrEncoding.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	e, err := parseElement(b)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return newPublicKey(e)
}

func newPublicKey(e group.Element) (*PublicKey, error) {
	if e.IsIdentity() {
		return nil, fmt.Errorf("%w: identity public key", ErrEncoding)
	}
	enc, err := e.MarshalBinaryCompress()
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrEncoding, err)
	}
	return &PublicKey{e: e, enc: enc}, nil
}

// element returns the key's point, or ErrEncoding for a nil or zero-value
// key (one that did not come from ParsePublicKey or PrivateKey.Public).
func (k *PublicKey) element() (group.Element, error) {
	if k == nil || k.e == nil {
		return nil, fmt.Errorf("%w: missing public key", ErrEncoding)
	}
	return k.e, nil
}

// Bytes returns the ElementSize-byte encoding of the key in a fresh slice
// (nil for a nil or zero-value key).
func (k *PublicKey) Bytes() []byte {
	if k == nil {
		return nil
	}
	return bytes.Clone(k.enc)
}

// Equal reports whether k and o are the same key. Two nil or zero-value keys
// are equal to each other and to no valid key.
func (k *PublicKey) Equal(o *PublicKey) bool {
	return bytes.Equal(k.Bytes(), o.Bytes())
}

package oprf

import (
	"errors"
	"math"
)

const (
	// SuiteID is the RFC 9497 identifier of the only suite this package
	// implements.
	SuiteID = "ristretto255-SHA512"
	// ElementSize is the length of an encoded group element.
	ElementSize = 32
	// ScalarSize is the length of an encoded scalar (private key, blind).
	ScalarSize = 32
	// ProofSize is the length of an encoded DLEQ proof (c || s).
	ProofSize = 2 * ScalarSize
	// OutputSize is the length of a PRF output (SHA-512).
	OutputSize = 64
	// MaxBatch is the largest number of elements in one evaluation.
	MaxBatch = 64
	// MaxInputSize caps a private input and an info string: RFC 9497 frames
	// both with a two-byte length.
	MaxInputSize = math.MaxUint16
)

// Mode is an RFC 9497 protocol variant; its value is the mode byte of the
// RFC's context string.
type Mode uint8

const (
	// ModeOPRF is the base mode (0x00): no proof, no info.
	ModeOPRF Mode = 0x00
	// ModeVOPRF is the verifiable mode (0x01): a DLEQ proof against the
	// public key.
	ModeVOPRF Mode = 0x01
	// ModePOPRF is the partially oblivious mode (0x02): public info enters
	// the PRF and the proof is against the key tweaked by info.
	ModePOPRF Mode = 0x02
)

func (m Mode) valid() bool { return m <= ModePOPRF }

var (
	// ErrEncoding reports a malformed key, element, scalar or proof: wrong
	// length, non-canonical encoding, identity element, zero scalar, or
	// trailing bytes.
	ErrEncoding = errors.New("oprf: malformed encoding")
	// ErrBatch reports an empty batch, one over MaxBatch, or lists whose
	// lengths do not match.
	ErrBatch = errors.New("oprf: bad batch size")
	// ErrTooLong reports a private input or info over MaxInputSize bytes.
	ErrTooLong = errors.New("oprf: input or info too long")
	// ErrProof reports a DLEQ proof that does not verify.
	ErrProof = errors.New("oprf: proof does not verify")
	// ErrMode reports an unknown mode, or a Blinding finalized in a mode
	// other than the one it was made for.
	ErrMode = errors.New("oprf: wrong mode")
	// ErrInverse reports info whose scalar cancels the key (RFC 9497
	// InverseError: k + m = 0). It happens with negligible probability.
	ErrInverse = errors.New("oprf: info cancels the key")
	// ErrDestroyed reports use of a key or Blinding after Destroy, or of a
	// zero value.
	ErrDestroyed = errors.New("oprf: key or blinding destroyed")
)

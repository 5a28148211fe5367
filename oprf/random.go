package oprf

import (
	"errors"
	"fmt"
	"io"

	"github.com/assent-dev/assent/internal/secret"
	"github.com/cloudflare/circl/group"
)

// randomScalarDST separates the reduction of random bytes to a scalar from
// every hash of RFC 9497.
const randomScalarDST = "assent-oprf-RandomScalar-" + SuiteID

// randomSeedSize is twice the scalar size so that reducing it leaves no
// measurable bias (RFC 9497 Section 4.7 asks for at least 48 bytes).
const randomSeedSize = 64

// randomScalar draws a uniformly random non-zero scalar from rand.
//
// circl's ristretto255 RandomScalar ignores its reader and reads
// crypto/rand, so the bytes are read here and reduced with circl's
// hash-to-scalar, a wide reduction (RFC 9380 hash_to_field). Callers keep
// their choice of source and tests stay deterministic.
func randomScalar(rand io.Reader) (group.Scalar, error) {
	if rand == nil {
		return nil, errors.New("oprf: nil random source")
	}
	var seed [randomSeedSize]byte
	defer secret.Clear(seed[:])
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("oprf: reading randomness: %w", err)
	}
	s := suiteGroup.HashToScalar(seed[:], []byte(randomScalarDST))
	if s.IsZero() {
		// Probability 2^-252 with a working source.
		return nil, errors.New("oprf: random source gave a zero scalar")
	}
	return s, nil
}

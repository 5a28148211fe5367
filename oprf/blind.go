package oprf

import (
	"bytes"
	"fmt"
	"io"

	"github.com/assent-dev/assent/internal/secret"
	"github.com/cloudflare/circl/group"
)

// Blinding is the client state of one RFC 9497 evaluation (the RFC's client
// role, played by the Assent server): copies of the private inputs, their
// blinds and the blinded elements, for one mode. It is not safe for
// concurrent use; call Destroy when done.
type Blinding struct {
	mode    Mode
	inputs  [][]byte
	blinds  []group.Scalar
	blinded []group.Element
	wire    [][]byte
}

// Blind starts a POPRF evaluation (mode 0x02) of inputs with blinds drawn
// from rand (crypto/rand in production). Errors: ErrBatch (no input or over
// MaxBatch), ErrTooLong (an input over MaxInputSize), ErrEncoding (an input
// hashing to the identity, probability negligible), or the error of rand.
func Blind(rand io.Reader, inputs [][]byte) (*Blinding, error) {
	return BlindMode(rand, ModePOPRF, inputs)
}

// BlindMode is Blind for any mode; an unknown mode gives ErrMode.
func BlindMode(rand io.Reader, m Mode, inputs [][]byte) (*Blinding, error) {
	if err := checkInputs(m, inputs); err != nil {
		return nil, err
	}
	blinds := make([]group.Scalar, len(inputs))
	for i := range blinds {
		s, err := randomScalar(rand)
		if err != nil {
			clearScalars(blinds...)
			return nil, err
		}
		blinds[i] = s
	}
	return newBlinding(m, inputs, blinds)
}

// BlindWithScalars is BlindMode with the blinds given as encoded scalars,
// one per input, for test vectors and golden files. Errors as BlindMode,
// plus ErrEncoding for a malformed or zero blind and ErrBatch when the
// counts differ. The caller keeps ownership of blinds.
func BlindWithScalars(m Mode, inputs, blinds [][]byte) (*Blinding, error) {
	if err := checkInputs(m, inputs); err != nil {
		return nil, err
	}
	if len(blinds) != len(inputs) {
		return nil, fmt.Errorf("%w: %d blinds for %d inputs", ErrBatch, len(blinds), len(inputs))
	}
	bs, err := parseScalars(blinds)
	if err != nil {
		return nil, fmt.Errorf("blinds: %w", err)
	}
	return newBlinding(m, inputs, bs)
}

func checkInputs(m Mode, inputs [][]byte) error {
	if !m.valid() {
		return fmt.Errorf("%w: unknown mode %#x", ErrMode, uint8(m))
	}
	if err := checkBatch(len(inputs)); err != nil {
		return fmt.Errorf("inputs: %w", err)
	}
	for i, in := range inputs {
		if err := checkLength(fmt.Sprintf("input %d", i), in); err != nil {
			return err
		}
	}
	return nil
}

// newBlinding computes blind * HashToGroup(input) for each input (RFC 9497
// Section 3.3.1 Blind) and takes ownership of blinds.
func newBlinding(m Mode, inputs [][]byte, blinds []group.Scalar) (*Blinding, error) {
	b := &Blinding{mode: m, blinds: blinds}
	for i, in := range inputs {
		p := hashToGroup(m, in)
		if p.IsIdentity() {
			b.Destroy()
			return nil, fmt.Errorf("%w: input %d hashes to the identity", ErrEncoding, i)
		}
		b.inputs = append(b.inputs, bytes.Clone(in))
		b.blinded = append(b.blinded, p.Mul(p, blinds[i]))
	}
	wire, err := encodeElements(b.blinded)
	if err != nil {
		b.Destroy()
		return nil, err
	}
	b.wire = wire
	return b, nil
}

// Elements returns the blinded elements to send to the evaluator, one
// ElementSize-byte copy per input, in order (nil after Destroy).
func (b *Blinding) Elements() [][]byte {
	if b == nil || len(b.wire) == 0 {
		return nil
	}
	out := make([][]byte, len(b.wire))
	for i, w := range b.wire {
		out[i] = bytes.Clone(w)
	}
	return out
}

// FinalizePOPRF verifies the device's POPRF answer and returns one
// OutputSize-byte PRF output per input, in order (RFC 9497 Section 3.3.3
// Finalize). The proof is checked first, against pk tweaked by info.
// Errors: ErrProof, ErrEncoding (a malformed element, proof or key),
// ErrBatch (not one evaluated element per input), ErrTooLong (info),
// ErrInverse, ErrMode (the Blinding is not for POPRF), ErrDestroyed.
// The caller should clear the outputs when done.
func (b *Blinding) FinalizePOPRF(pk *PublicKey, info []byte, evaluated [][]byte, proof []byte) (outputs [][]byte, err error) {
	return b.finalize(ModePOPRF, pk, info, evaluated, proof)
}

// FinalizeVOPRF is FinalizePOPRF for mode 0x01, the proof being against pk.
func (b *Blinding) FinalizeVOPRF(pk *PublicKey, evaluated [][]byte, proof []byte) (outputs [][]byte, err error) {
	return b.finalize(ModeVOPRF, pk, nil, evaluated, proof)
}

// FinalizeOPRF is Finalize for mode 0x00: nothing can be verified, so a
// wrong evaluation gives wrong outputs. Errors as FinalizePOPRF, without
// ErrProof, ErrTooLong and ErrInverse.
func (b *Blinding) FinalizeOPRF(evaluated [][]byte) (outputs [][]byte, err error) {
	return b.finalize(ModeOPRF, nil, nil, evaluated, nil)
}

func (b *Blinding) finalize(m Mode, pk *PublicKey, info []byte, evaluated [][]byte, proof []byte) ([][]byte, error) {
	// Lengths that disagree mean a Destroy got in (a caller bug); an
	// error, never an index out of range.
	if b == nil || len(b.blinds) == 0 || len(b.inputs) != len(b.blinds) || len(b.blinded) != len(b.blinds) {
		return nil, ErrDestroyed
	}
	if b.mode != m {
		return nil, fmt.Errorf("%w: blinding for mode %#x finalized in mode %#x", ErrMode, uint8(b.mode), uint8(m))
	}
	if len(evaluated) != len(b.blinded) {
		return nil, fmt.Errorf("%w: %d evaluated elements for %d blinded", ErrBatch, len(evaluated), len(b.blinded))
	}
	zs, err := parseElements(evaluated)
	if err != nil {
		return nil, fmt.Errorf("evaluated elements: %w", err)
	}
	if m != ModeOPRF {
		if err := verify(m, pk, info, b.blinded, zs, proof); err != nil {
			return nil, err
		}
	}

	inv := suiteGroup.NewScalar()
	defer clearScalars(inv)
	defer clearElements(zs...)
	outputs := make([][]byte, len(zs))
	for i, z := range zs {
		inv.Inv(b.blinds[i])
		enc, err := z.Mul(z, inv).MarshalBinaryCompress()
		if err != nil {
			secret.Clear(outputs...)
			return nil, fmt.Errorf("%w: unblinded element: %v", ErrEncoding, err)
		}
		outputs[i] = finalizeHash(m, b.inputs[i], info, enc)
		secret.Clear(enc)
	}
	return outputs, nil
}

// Destroy overwrites the inputs and blinds (best effort) and makes later
// Finalize calls fail with ErrDestroyed.
func (b *Blinding) Destroy() {
	if b == nil {
		return
	}
	secret.Clear(b.inputs...)
	clearScalars(b.blinds...)
	b.inputs, b.blinds, b.blinded, b.wire = nil, nil, nil, nil
}

package oprf

import (
	"fmt"
	"io"

	"github.com/assent-dev/assent/internal/secret"
	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/zk/dleq"
)

// EvaluatePOPRF is the RFC 9497 POPRF BlindEvaluate (mode 0x02, the RFC's
// server role, played by the Assent device): it evaluates each blinded
// element with the key tweaked by info and proves it with one batched DLEQ
// proof, whose randomness comes from rand (crypto/rand in production).
//
// It returns one ElementSize-byte evaluated element per blinded element, in
// order, and a ProofSize-byte proof. Errors: ErrTooLong (info over
// MaxInputSize), ErrBatch, ErrEncoding (a blinded element), ErrInverse,
// ErrDestroyed, or the error of rand.
func (k *PrivateKey) EvaluatePOPRF(rand io.Reader, blinded [][]byte, info []byte) (evaluated [][]byte, proof []byte, err error) {
	return k.evaluate(ModePOPRF, blinded, info, func() (group.Scalar, error) { return randomScalar(rand) })
}

// EvaluatePOPRFWithProofScalar is EvaluatePOPRF with the proof randomness
// given as an encoded scalar, for test vectors and golden files. A bad
// scalar gives ErrEncoding. Never reuse a proof scalar: two proofs with the
// same one reveal the key.
func (k *PrivateKey) EvaluatePOPRFWithProofScalar(r []byte, blinded [][]byte, info []byte) (evaluated [][]byte, proof []byte, err error) {
	return k.evaluate(ModePOPRF, blinded, info, proofScalar(r))
}

// EvaluateVOPRF is the RFC 9497 VOPRF BlindEvaluate (mode 0x01): it
// evaluates each blinded element with the key and proves it against the
// public key with one batched DLEQ proof drawn from rand. Errors as
// EvaluatePOPRF, without ErrTooLong and ErrInverse.
func (k *PrivateKey) EvaluateVOPRF(rand io.Reader, blinded [][]byte) (evaluated [][]byte, proof []byte, err error) {
	return k.evaluate(ModeVOPRF, blinded, nil, func() (group.Scalar, error) { return randomScalar(rand) })
}

// EvaluateVOPRFWithProofScalar is EvaluateVOPRF with given proof randomness,
// under the rules of EvaluatePOPRFWithProofScalar.
func (k *PrivateKey) EvaluateVOPRFWithProofScalar(r []byte, blinded [][]byte) (evaluated [][]byte, proof []byte, err error) {
	return k.evaluate(ModeVOPRF, blinded, nil, proofScalar(r))
}

// EvaluateOPRFBlinded is the RFC 9497 OPRF BlindEvaluate (mode 0x00): each
// blinded element times the key, without proof. Errors: ErrBatch,
// ErrEncoding, ErrDestroyed.
func (k *PrivateKey) EvaluateOPRFBlinded(blinded [][]byte) ([][]byte, error) {
	evaluated, _, err := k.evaluate(ModeOPRF, blinded, nil, nil)
	return evaluated, err
}

// EvaluateOPRF is the RFC 9497 OPRF Evaluate (mode 0x00, Section 3.3.1):
// the unblinded evaluation of input by the key holder, as Assent's server
// share computes yS. It returns OutputSize bytes, equal to what a client
// obtains with BlindMode(ModeOPRF), EvaluateOPRFBlinded and FinalizeOPRF.
// Errors: ErrTooLong (input over MaxInputSize), ErrEncoding (input hashes to
// the identity, probability negligible), ErrDestroyed.
func (k *PrivateKey) EvaluateOPRF(input []byte) ([]byte, error) {
	sk, err := k.scalar()
	if err != nil {
		return nil, err
	}
	if err := checkLength("input", input); err != nil {
		return nil, err
	}
	p := hashToGroup(ModeOPRF, input)
	if p.IsIdentity() {
		return nil, fmt.Errorf("%w: input hashes to the identity", ErrEncoding)
	}
	defer clearElements(p)
	enc, err := p.Mul(p, sk).MarshalBinaryCompress()
	if err != nil {
		return nil, fmt.Errorf("%w: evaluated element: %v", ErrEncoding, err)
	}
	defer secret.Clear(enc)
	return finalizeHash(ModeOPRF, input, nil, enc), nil
}

// proofScalar decodes given proof randomness on demand.
func proofScalar(r []byte) func() (group.Scalar, error) {
	return func() (group.Scalar, error) {
		s, err := parseScalar(r)
		if err != nil {
			return nil, fmt.Errorf("proof scalar: %w", err)
		}
		return s, nil
	}
}

// evaluate runs BlindEvaluate in mode m. The proof randomness comes from
// nonce, called only once the inputs are valid; base mode takes none.
func (k *PrivateKey) evaluate(m Mode, blinded [][]byte, info []byte, nonce func() (group.Scalar, error)) ([][]byte, []byte, error) {
	sk, err := k.scalar()
	if err != nil {
		return nil, nil, err
	}
	if err := checkLength("info", info); err != nil {
		return nil, nil, err
	}
	bs, err := parseElements(blinded)
	if err != nil {
		return nil, nil, fmt.Errorf("blinded elements: %w", err)
	}

	// The proven secret t is k, or k + m in POPRF mode where elements are
	// multiplied by 1/t (RFC 9497 Section 3.3.3).
	t := suiteGroup.NewScalar().Set(sk)
	defer clearScalars(t)
	factor := t
	if m == ModePOPRF {
		tweak := infoScalar(info)
		t.Add(t, tweak)
		clearScalars(tweak)
		if t.IsZero() {
			return nil, nil, ErrInverse
		}
		factor = suiteGroup.NewScalar().Inv(t)
		defer clearScalars(factor)
	}

	zs := make([]group.Element, len(bs))
	for i, b := range bs {
		zs[i] = suiteGroup.NewElement().Mul(b, factor)
	}
	evaluated, err := encodeElements(zs)
	if err != nil || m == ModeOPRF {
		return evaluated, nil, err
	}

	r, err := nonce()
	if err != nil {
		return nil, nil, err
	}
	defer clearScalars(r)
	prover := dleq.Prover{Params: dleqParams(m)}
	tG := suiteGroup.NewElement().MulGen(t)
	var proof *dleq.Proof
	if m == ModePOPRF {
		// Proves t*Z = B: the evaluation is the base, as in the RFC.
		proof, err = prover.ProveBatchWithRandomnessRFC9497(t, tG, zs, bs, r)
	} else {
		proof, err = prover.ProveBatchWithRandomnessRFC9497(t, tG, bs, zs, r)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("oprf: proving: %w", err)
	}
	proofBytes, err := proof.MarshalBinary()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: proof: %v", ErrEncoding, err)
	}
	return evaluated, proofBytes, nil
}

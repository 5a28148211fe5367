package oprf

import (
	"fmt"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/zk/dleq"
)

// VerifyPOPRF checks a POPRF evaluation (mode 0x02) without the blinds: the
// DLEQ proof that evaluated[i] * (k + m) = blinded[i] for every i, where
// pk = G * k and m is the info scalar (RFC 9497 Section 3.3.3). Assent uses
// it for the enrollment check and on nodes that do not hold the blinds.
// It returns nil only if the proof verifies. Errors: ErrProof, ErrEncoding
// (a malformed element, proof or key), ErrBatch (empty, over MaxBatch, or
// lists of different lengths), ErrTooLong (info), ErrInverse.
func VerifyPOPRF(pk *PublicKey, info []byte, blinded, evaluated [][]byte, proof []byte) error {
	return verifyWire(ModePOPRF, pk, info, blinded, evaluated, proof)
}

// VerifyVOPRF is VerifyPOPRF for mode 0x01: the proof that
// evaluated[i] = k * blinded[i] for pk = G * k.
func VerifyVOPRF(pk *PublicKey, blinded, evaluated [][]byte, proof []byte) error {
	return verifyWire(ModeVOPRF, pk, nil, blinded, evaluated, proof)
}

func verifyWire(m Mode, pk *PublicKey, info []byte, blinded, evaluated [][]byte, proof []byte) error {
	if len(blinded) != len(evaluated) {
		return fmt.Errorf("%w: %d evaluated elements for %d blinded", ErrBatch, len(evaluated), len(blinded))
	}
	bs, err := parseElements(blinded)
	if err != nil {
		return fmt.Errorf("blinded elements: %w", err)
	}
	zs, err := parseElements(evaluated)
	if err != nil {
		return fmt.Errorf("evaluated elements: %w", err)
	}
	return verify(m, pk, info, bs, zs, proof)
}

// verify checks the batched DLEQ proof of mode m (VOPRF or POPRF) over
// decoded elements of equal, valid count.
func verify(m Mode, pk *PublicKey, info []byte, bs, zs []group.Element, proof []byte) error {
	if err := checkLength("info", info); err != nil {
		return err
	}
	key, err := pk.element()
	if err != nil {
		return err
	}
	p, err := parseProof(proof)
	if err != nil {
		return err
	}
	v := dleq.Verifier{Params: dleqParams(m)}
	var ok bool
	if m == ModePOPRF {
		// The tweaked key pk + G*m, and the evaluation as the proof's base.
		tweaked := suiteGroup.NewElement().MulGen(infoScalar(info))
		tweaked.Add(tweaked, key)
		if tweaked.IsIdentity() {
			return ErrInverse
		}
		ok = v.VerifyBatchRFC9497(tweaked, zs, bs, p)
	} else {
		ok = v.VerifyBatchRFC9497(key, bs, zs, p)
	}
	if !ok {
		return ErrProof
	}
	return nil
}

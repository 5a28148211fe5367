package threshold

import (
	"fmt"

	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/oprf"
)

// DeviceOutput checks the device's POPRF answer for record recordID of user
// userID and returns yD, the 64-byte device output. b must blind exactly one
// input (oprf.ErrBatch otherwise); the proof is checked against pkD with the
// record's info first (oprf.ErrProof, oprf.ErrEncoding for malformed wire
// values). The caller clears yD.
func DeviceOutput(b *oprf.Blinding, pkD *oprf.PublicKey, userID, recordID string, evaluated [][]byte, proof []byte) ([]byte, error) {
	info, err := RecordInfo(userID, recordID)
	if err != nil {
		return nil, err
	}
	if len(evaluated) != 1 {
		return nil, fmt.Errorf("threshold: %w: a record takes one evaluated element, got %d", oprf.ErrBatch, len(evaluated))
	}
	outs, err := b.FinalizePOPRF(pkD, info, evaluated, proof)
	if err != nil {
		return nil, fmt.Errorf("threshold: device answer: %w", err)
	}
	if len(outs) != 1 {
		secret.Clear(outs...)
		return nil, fmt.Errorf("threshold: %w: a record takes one blinded input, got %d", oprf.ErrBatch, len(outs))
	}
	return outs[0], nil
}

// RecordKEK is the server's whole derivation of a record's KEK from the
// device's answer: yD from DeviceOutput, then yS = share.EvaluateOPRF(x),
// then DeriveKEK. yS and yD are cleared before it returns; the caller clears
// the KEK. The share is evaluated only after the device's proof verifies.
func RecordKEK(b *oprf.Blinding, pkD *oprf.PublicKey, share *oprf.PrivateKey, x []byte, userID, recordID string, evaluated [][]byte, proof []byte) ([]byte, error) {
	yD, err := DeviceOutput(b, pkD, userID, recordID, evaluated, proof)
	if err != nil {
		return nil, err
	}
	defer secret.Clear(yD)
	yS, err := share.EvaluateOPRF(x)
	if err != nil {
		return nil, fmt.Errorf("threshold: server share: %w", err)
	}
	defer secret.Clear(yS)
	return DeriveKEK(yS, yD, userID, recordID)
}

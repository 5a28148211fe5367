package server

import (
	"errors"

	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// checkApproval checks the device's evaluation in an approval of q before
// the answer is recorded; a bad one is 400 bad_proof and q stays pending.
//
// When this node holds q's secrets and nobody is acting on them, the proof
// is verified once, by finalizing with q's blinding: checkApproval returns
// the secrets, claimed, with yD, the device's output, so that the answer
// can be processed without verifying the proof a second time. The caller
// clears yD and either processes q with them (processClaimed) or unclaims
// them. Otherwise it only verifies the proof and returns nil, nil: the
// owner finalizes the answer it reads from the store, verifying it there.
func (s *Server) checkApproval(dev *store.Device, q *store.Request, evaluated [][]byte, proof []byte) (*pendingSecrets, []byte, error) {
	if q.OwnerNode == s.cfg.NodeID && len(evaluated) == len(q.BlindedElements) {
		if p, res := s.pending.claim(q.ID); res == claimed {
			yD, err := deviceOutput(p, dev.OPRFPublicKey, q, evaluated, proof)
			if err != nil {
				s.pending.unclaim(q.ID, p)
				return nil, nil, err
			}
			return p, yD, nil
		}
	}
	info, err := threshold.RecordInfo(q.UserID, q.RecordID)
	if err != nil {
		return nil, nil, failCause(errInternal, msgInternal, err)
	}
	return nil, nil, verifyProof(dev.OPRFPublicKey, info, q.BlindedElements, evaluated, proof)
}

// deviceOutput verifies and finalizes the device's evaluation with the
// blinding of p; failures of the device's values are 400 bad_proof.
func deviceOutput(p *pendingSecrets, pkD []byte, q *store.Request, evaluated [][]byte, proof []byte) ([]byte, error) {
	pk, err := oprf.ParsePublicKey(pkD)
	if err != nil {
		return nil, failCause(errInternal, msgInternal, err)
	}
	yD, err := threshold.DeviceOutput(p.blinding, pk, q.UserID, q.RecordID, evaluated, proof)
	switch {
	case badEvaluation(err):
		return nil, failCause(errBadProof, msgBadProof, err)
	case err != nil:
		return nil, failCause(errInternal, msgInternal, err)
	}
	return yD, nil
}

// badEvaluation reports whether err says the device's evaluation does not
// verify or decode.
func badEvaluation(err error) bool {
	return errors.Is(err, oprf.ErrProof) || errors.Is(err, oprf.ErrEncoding) ||
		errors.Is(err, oprf.ErrBatch) || errors.Is(err, oprf.ErrInverse)
}

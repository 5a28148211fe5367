// Package approvalbench is the device's CPU work for one approval, without
// the network or the ledger, as device.BenchmarkAnswer's "crypto" case
// does it: the approval statement, the POPRF evaluation with its proof
// under info = threshold.RecordInfo(user, record), and the Ed25519
// signature. The approval app's WebAssembly and the browser test run the
// same code, so that the page's cost can be set beside native Go's.
package approvalbench

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/threshold"
)

// Run does the work of n approvals and returns the time per approval.
func Run(n int) (time.Duration, error) {
	if n < 1 {
		return 0, errors.New("approvalbench: n must be positive")
	}
	k, err := oprf.GenerateKey(rand.Reader)
	if err != nil {
		return 0, err
	}
	defer k.Destroy()
	blind, err := oprf.GenerateKey(rand.Reader)
	if err != nil {
		return 0, err
	}
	defer blind.Destroy()
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return 0, err
	}
	uid, err1 := ids.New(ids.User, rand.Reader)
	reqID, err2 := ids.New(ids.Request, rand.Reader)
	cid, err3 := ids.New(ids.Client, rand.Reader)
	rid, err4 := ids.NewRecord(rand.Reader, time.Now())
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return 0, err
	}
	sum := sha256.Sum256([]byte("content"))
	st := &threshold.Statement{
		RequestID: reqID, Kind: threshold.KindCreate, UserID: uid, RecordID: rid, Decision: threshold.DecisionApprove,
		ContentSHA256: sum[:], RequesterID: cid, Purpose: "storage", BlindedElements: [][]byte{blind.Public().Bytes()},
		ExpiresAt: time.Now().Add(10 * time.Minute),
	}
	start := time.Now()
	for range n {
		msg, err := st.Marshal()
		if err != nil {
			return 0, err
		}
		info, err := threshold.RecordInfo(uid, rid)
		if err != nil {
			return 0, err
		}
		if _, _, err := k.EvaluatePOPRF(rand.Reader, st.BlindedElements, info); err != nil {
			return 0, err
		}
		_ = threshold.Sign(sk, msg)
	}
	return time.Since(start) / time.Duration(n), nil
}

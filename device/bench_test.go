package device

import (
	"crypto/rand"
	"crypto/sha256"
	"path/filepath"
	"testing"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/threshold"
)

// BenchmarkAnswer measures what the device does for one approval, without
// the network: "crypto" is the baseline (statement, POPRF evaluation with
// proof, signature), "crypto+ledger" adds the durable ledger line (an fsync)
// written before every answer. Their ratio is the ledger's cost.
func BenchmarkAnswer(b *testing.B) {
	id := newIdentity(b, "https://assent.example")
	req := validRequest(b, id, threshold.KindCreate)
	answer := func() *Entry {
		msg, err := threshold.ApprovalStatement(req, threshold.DecisionApprove).Marshal()
		if err != nil {
			b.Fatal(err)
		}
		info, _ := threshold.RecordInfo(req.UserID, req.RecordID)
		ev, proof, err := id.OPRFKey.EvaluatePOPRF(rand.Reader, req.BlindedElements, info)
		if err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(msg)
		return &Entry{At: checkNow, Kind: req.Kind, UserID: req.UserID, RecordID: req.RecordID, Record: &req.Record,
			Requester: &req.Requester, Purpose: req.Purpose, Decision: threshold.DecisionApprove, DecidedBy: DecidedByPolicy,
			ExpiresAt: req.ExpiresAt, StatementSHA256: sum[:],
			Response: &Response{Decision: threshold.DecisionApprove, EvaluatedElements: ev, Proof: proof, Signature: threshold.Sign(id.SigningKey, msg)}}
	}
	b.Run("crypto", func(b *testing.B) {
		for b.Loop() {
			answer()
		}
	})
	b.Run("crypto+ledger", func(b *testing.B) {
		l, err := OpenLedger(filepath.Join(b.TempDir(), "ledger"))
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		for b.Loop() {
			e := answer()
			e.RequestID = mustID(b, ids.Request)
			e.RecordID = mustRecordID(b)
			if err := l.AppendAnswer(e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func mustRecordID(b *testing.B) string {
	b.Helper()
	rid, err := ids.NewRecord(rand.Reader, checkNow)
	if err != nil {
		b.Fatal(err)
	}
	return rid
}

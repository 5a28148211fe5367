package oprf_test

import (
	"crypto/rand"
	"testing"

	"github.com/assent-dev/assent/oprf"
	circl "github.com/cloudflare/circl/oprf"
)

// BenchmarkPOPRF measures one Assent record evaluation (batch of one, 32-byte
// input) step by step, next to circl/oprf's own client and server as the
// baseline: compare assent/X with circl/X.
func BenchmarkPOPRF(b *testing.B) {
	inputs := [][]byte{make([]byte, 32)}
	info := []byte("assent/record/v1 user record")
	sk, err := oprf.GenerateKey(rand.Reader)
	mustNot(b, err)
	pk := sk.Public()
	bl, err := oprf.Blind(rand.Reader, inputs)
	mustNot(b, err)
	blinded := bl.Elements()
	evaluated, proof, err := sk.EvaluatePOPRF(rand.Reader, blinded, info)
	mustNot(b, err)

	b.Run("assent/blind", func(b *testing.B) {
		for b.Loop() {
			x, err := oprf.Blind(rand.Reader, inputs)
			mustNot(b, err)
			x.Destroy()
		}
	})
	b.Run("assent/evaluate", func(b *testing.B) {
		for b.Loop() {
			_, _, err := sk.EvaluatePOPRF(rand.Reader, blinded, info)
			mustNot(b, err)
		}
	})
	b.Run("assent/verify", func(b *testing.B) {
		for b.Loop() {
			mustNot(b, oprf.VerifyPOPRF(pk, info, blinded, evaluated, proof))
		}
	})
	b.Run("assent/finalize", func(b *testing.B) {
		for b.Loop() {
			_, err := bl.FinalizePOPRF(pk, info, evaluated, proof)
			mustNot(b, err)
		}
	})
	b.Run("assent/evaluate-oprf", func(b *testing.B) {
		for b.Loop() {
			_, err := sk.EvaluateOPRF(inputs[0])
			mustNot(b, err)
		}
	})

	s := circl.SuiteRistretto255
	key := new(circl.PrivateKey)
	mustNot(b, key.UnmarshalBinary(s, sk.Bytes()))
	pub := new(circl.PublicKey)
	mustNot(b, pub.UnmarshalBinary(s, pk.Bytes()))
	client := circl.NewPartialObliviousClient(s, pub)
	server := circl.NewPartialObliviousServer(s, key)
	fin, req, err := client.Blind(inputs)
	mustNot(b, err)
	eval, err := server.Evaluate(req, info)
	mustNot(b, err)

	b.Run("circl/blind", func(b *testing.B) {
		for b.Loop() {
			_, _, err := client.Blind(inputs)
			mustNot(b, err)
		}
	})
	b.Run("circl/evaluate", func(b *testing.B) {
		for b.Loop() {
			_, err := server.Evaluate(req, info)
			mustNot(b, err)
		}
	})
	b.Run("circl/finalize", func(b *testing.B) {
		for b.Loop() {
			_, err := client.Finalize(fin, eval, info)
			mustNot(b, err)
		}
	})
	b.Run("circl/evaluate-oprf", func(b *testing.B) {
		base := circl.NewServer(s, key)
		for b.Loop() {
			_, err := base.FullEvaluate(inputs[0])
			mustNot(b, err)
		}
	})
}

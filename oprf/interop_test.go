package oprf_test

// Cross-checks against circl/oprf, the reference this package composes from:
// circl's client accepts this package's evaluations, this package accepts
// circl's server evaluations, and both agree on every output, in all modes.

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/assent-dev/assent/oprf"
	"github.com/cloudflare/circl/group"
	circl "github.com/cloudflare/circl/oprf"
	"github.com/cloudflare/circl/zk/dleq"
)

var allModes = []oprf.Mode{oprf.ModeOPRF, oprf.ModeVOPRF, oprf.ModePOPRF}

func TestSuiteMatchesCircl(t *testing.T) {
	s := circl.SuiteRistretto255
	if s.Identifier() != oprf.SuiteID || s.Group() != group.Ristretto255 {
		t.Fatalf("circl suite %s/%v", s.Identifier(), s.Group())
	}
	p := s.Group().Params()
	if int(p.CompressedElementLength) != oprf.ElementSize || int(p.ScalarLength) != oprf.ScalarSize ||
		s.Hash().Size() != oprf.OutputSize {
		t.Fatalf("sizes %+v, hash %d", p, s.Hash().Size())
	}
	if circl.BaseMode != uint8(oprf.ModeOPRF) || circl.VerifiableMode != uint8(oprf.ModeVOPRF) ||
		circl.PartialObliviousMode != uint8(oprf.ModePOPRF) {
		t.Fatal("mode bytes differ from circl's")
	}
}

// circlParty is the circl/oprf client and server of one mode, with the same
// key as the oprf.PrivateKey under test.
type circlParty struct {
	blind    func(inputs [][]byte) (*circl.FinalizeData, *circl.EvaluationRequest, error)
	finalize func(*circl.FinalizeData, *circl.Evaluation) ([][]byte, error)
	evaluate func(*circl.EvaluationRequest) (*circl.Evaluation, error)
	full     func(input []byte) ([]byte, error)
}

func newCirclParty(t *testing.T, m oprf.Mode, sk *oprf.PrivateKey, info []byte) circlParty {
	t.Helper()
	s := circl.SuiteRistretto255
	key := new(circl.PrivateKey)
	mustNot(t, key.UnmarshalBinary(s, sk.Bytes()))
	pub := new(circl.PublicKey)
	mustNot(t, pub.UnmarshalBinary(s, sk.Public().Bytes()))
	switch m {
	case oprf.ModeOPRF:
		c, srv := circl.NewClient(s), circl.NewServer(s, key)
		return circlParty{c.Blind, c.Finalize, srv.Evaluate, srv.FullEvaluate}
	case oprf.ModeVOPRF:
		c, srv := circl.NewVerifiableClient(s, pub), circl.NewVerifiableServer(s, key)
		return circlParty{c.Blind, c.Finalize, srv.Evaluate, srv.FullEvaluate}
	default:
		c, srv := circl.NewPartialObliviousClient(s, pub), circl.NewPartialObliviousServer(s, key)
		return circlParty{
			blind:    c.Blind,
			finalize: func(f *circl.FinalizeData, e *circl.Evaluation) ([][]byte, error) { return c.Finalize(f, e, info) },
			evaluate: func(r *circl.EvaluationRequest) (*circl.Evaluation, error) { return srv.Evaluate(r, info) },
			full:     func(in []byte) ([]byte, error) { return srv.FullEvaluate(in, info) },
		}
	}
}

// evaluateIn runs this package's BlindEvaluate of mode m with fresh proof
// randomness; the proof is nil in base mode.
func evaluateIn(m oprf.Mode, sk *oprf.PrivateKey, blinded [][]byte, info []byte) ([][]byte, []byte, error) {
	switch m {
	case oprf.ModeOPRF:
		ev, err := sk.EvaluateOPRFBlinded(blinded)
		return ev, nil, err
	case oprf.ModeVOPRF:
		return sk.EvaluateVOPRF(rand.Reader, blinded)
	default:
		return sk.EvaluatePOPRF(rand.Reader, blinded, info)
	}
}

// finalizeIn runs this package's Finalize of mode m.
func finalizeIn(m oprf.Mode, b *oprf.Blinding, pk *oprf.PublicKey, info []byte, evaluated [][]byte, proof []byte) ([][]byte, error) {
	switch m {
	case oprf.ModeOPRF:
		return b.FinalizeOPRF(evaluated)
	case oprf.ModeVOPRF:
		return b.FinalizeVOPRF(pk, evaluated, proof)
	default:
		return b.FinalizePOPRF(pk, info, evaluated, proof)
	}
}

func TestInteropWithCircl(t *testing.T) {
	inputs := [][]byte{{}, []byte("record input"), bytes.Repeat([]byte{0xa5}, 200)}
	info := []byte("assent/record/v1 interop")
	for _, m := range allModes {
		t.Run(fmt.Sprintf("mode%d", m), func(t *testing.T) {
			sk, err := oprf.GenerateKey(rand.Reader)
			mustNot(t, err)
			ref := newCirclParty(t, m, sk, info)
			want := make([][]byte, len(inputs))
			for i, in := range inputs {
				want[i], err = ref.full(in)
				mustNot(t, err)
			}

			t.Run("ours end to end", func(t *testing.T) {
				b, err := oprf.BlindMode(rand.Reader, m, inputs)
				mustNot(t, err)
				defer b.Destroy()
				ev, proof, err := evaluateIn(m, sk, b.Elements(), info)
				mustNot(t, err)
				got, err := finalizeIn(m, b, sk.Public(), info, ev, proof)
				mustNot(t, err)
				assertLists(t, "outputs", got, want)
			})
			t.Run("circl client, our evaluation", func(t *testing.T) {
				fin, req, err := ref.blind(inputs)
				mustNot(t, err)
				ev, proof, err := evaluateIn(m, sk, encodeAll(t, req.Elements), info)
				mustNot(t, err)
				eval := &circl.Evaluation{Elements: decodeAll(t, ev)}
				if proof != nil {
					eval.Proof = new(dleq.Proof)
					mustNot(t, eval.Proof.UnmarshalBinary(group.Ristretto255, proof))
				}
				got, err := ref.finalize(fin, eval)
				mustNot(t, err)
				assertLists(t, "outputs", got, want)
			})
			t.Run("our client, circl evaluation", func(t *testing.T) {
				b, err := oprf.BlindMode(rand.Reader, m, inputs)
				mustNot(t, err)
				defer b.Destroy()
				eval, err := ref.evaluate(&circl.EvaluationRequest{Elements: decodeAll(t, b.Elements())})
				mustNot(t, err)
				var proof []byte
				if eval.Proof != nil {
					proof, err = eval.Proof.MarshalBinary()
					mustNot(t, err)
				}
				got, err := finalizeIn(m, b, sk.Public(), info, encodeAll(t, eval.Elements), proof)
				mustNot(t, err)
				assertLists(t, "outputs", got, want)
			})
			if m == oprf.ModeOPRF {
				for i, in := range inputs {
					got, err := sk.EvaluateOPRF(in)
					mustNot(t, err)
					assertLists(t, "EvaluateOPRF", [][]byte{got}, want[i:i+1])
				}
			}
		})
	}
}

func encodeAll(t *testing.T, es []group.Element) [][]byte {
	t.Helper()
	out := make([][]byte, len(es))
	for i, e := range es {
		b, err := e.MarshalBinaryCompress()
		mustNot(t, err)
		out[i] = b
	}
	return out
}

func decodeAll(t *testing.T, bs [][]byte) []group.Element {
	t.Helper()
	out := make([]group.Element, len(bs))
	for i, b := range bs {
		out[i] = group.Ristretto255.NewElement()
		mustNot(t, out[i].UnmarshalBinary(b))
	}
	return out
}

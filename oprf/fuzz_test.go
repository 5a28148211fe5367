package oprf_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/assent-dev/assent/oprf"
)

// Fuzz targets for every decoder, seeded from the RFC 9497 vectors. The
// seeds run with the normal tests; fuzz by hand with, for example,
//
//	go test -run '^$' -fuzz FuzzVerifyPOPRF -fuzztime 5m ./oprf

// vectorSeeds returns every key, element, scalar and proof of the vectors.
func vectorSeeds(tb testing.TB) (keys, elements, scalars, proofs [][]byte) {
	for _, s := range loadVectors(tb) {
		if len(s.PkSm) > 0 { // base mode publishes no public key
			keys = append(keys, s.PkSm)
		}
		scalars = append(scalars, s.SkSm)
		for _, v := range s.Vectors {
			elements = append(elements, v.BlindedElement...)
			elements = append(elements, v.EvaluationElement...)
			scalars = append(scalars, v.Blind...)
			if v.Proof.Proof != nil {
				proofs = append(proofs, v.Proof.Proof)
				scalars = append(scalars, v.Proof.R)
			}
		}
	}
	return keys, elements, scalars, proofs
}

func addSeeds(f *testing.F, lists ...[][]byte) {
	for _, l := range lists {
		for _, b := range l {
			f.Add(b)
			f.Add(b[:len(b)-1])
			f.Add(append(bytes.Clone(b), 0))
		}
	}
	f.Add([]byte{})
}

// wantOnly fails unless err is nil or wraps one of the allowed sentinels.
func wantOnly(t *testing.T, err error, allowed ...error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, a := range allowed {
		if errors.Is(err, a) {
			return
		}
	}
	t.Fatalf("unexpected error class: %v", err)
}

func FuzzParsePrivateKey(f *testing.F) {
	_, elements, scalars, _ := vectorSeeds(f)
	addSeeds(f, scalars, elements)
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := oprf.ParsePrivateKey(b)
		wantOnly(t, err, oprf.ErrEncoding)
		if err != nil {
			return
		}
		if !bytes.Equal(k.Bytes(), b) {
			t.Fatal("private key does not round-trip")
		}
		if _, err := oprf.ParsePublicKey(k.Public().Bytes()); err != nil {
			t.Fatalf("its public key does not parse: %v", err)
		}
	})
}

func FuzzParsePublicKey(f *testing.F) {
	keys, elements, scalars, _ := vectorSeeds(f)
	addSeeds(f, keys, elements, scalars)
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := oprf.ParsePublicKey(b)
		wantOnly(t, err, oprf.ErrEncoding)
		if err == nil && !bytes.Equal(k.Bytes(), b) {
			t.Fatal("public key does not round-trip")
		}
	})
}

func FuzzParseElement(f *testing.F) {
	keys, elements, _, _ := vectorSeeds(f)
	addSeeds(f, keys, elements)
	f.Fuzz(func(t *testing.T, b []byte) {
		err := oprf.ParseElementForTest(b)
		wantOnly(t, err, oprf.ErrEncoding)
		if err == nil && len(b) != oprf.ElementSize {
			t.Fatalf("accepted %d bytes", len(b))
		}
	})
}

func FuzzParseProof(f *testing.F) {
	_, _, scalars, proofs := vectorSeeds(f)
	addSeeds(f, proofs)
	for _, s := range scalars {
		f.Add(append(bytes.Clone(s), s...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := oprf.ParseProofForTest(b)
		wantOnly(t, err, oprf.ErrEncoding)
		if err == nil && len(b) != oprf.ProofSize {
			t.Fatalf("accepted %d bytes", len(b))
		}
	})
}

// splitElements cuts b into ElementSize pieces; a short tail stays a piece,
// so that wrong lengths reach the decoder too.
func splitElements(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := min(len(b), oprf.ElementSize)
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func FuzzVerifyPOPRF(f *testing.F) {
	s := loadVectors(f)[oprf.ModePOPRF]
	for _, v := range s.Vectors {
		f.Add([]byte(s.PkSm), []byte(v.Info), bytes.Join(v.BlindedElement, nil), bytes.Join(v.EvaluationElement, nil), []byte(v.Proof.Proof))
	}
	f.Fuzz(func(t *testing.T, pk, info, blinded, evaluated, proof []byte) {
		key, err := oprf.ParsePublicKey(pk)
		wantOnly(t, err, oprf.ErrEncoding)
		err = oprf.VerifyPOPRF(key, info, splitElements(blinded), splitElements(evaluated), proof)
		wantOnly(t, err, oprf.ErrEncoding, oprf.ErrBatch, oprf.ErrTooLong, oprf.ErrProof, oprf.ErrInverse)
		if err == nil && (key == nil || len(blinded) != len(evaluated) || len(proof) != oprf.ProofSize) {
			t.Fatal("accepted a malformed evaluation")
		}
	})
}

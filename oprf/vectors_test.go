package oprf_test

// RFC 9497 Appendix A.1.1 test vectors for ristretto255-SHA512, all three
// modes, run through this package's API. Source and extraction:
// testdata/README.md.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/assent-dev/assent/oprf"
	circl "github.com/cloudflare/circl/oprf"
)

const vectorFile = "testdata/rfc9497-ristretto255-sha512.json"

// hexBytes is a hex string in the vector file.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	b, err := hex.DecodeString(s)
	*h = b
	return err
}

// hexList is a comma-separated list of hex strings (one per batch entry).
type hexList [][]byte

func (h *hexList) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	for _, part := range strings.Split(s, ",") {
		b, err := hex.DecodeString(part)
		if err != nil {
			return err
		}
		*h = append(*h, b)
	}
	return nil
}

type suiteVectors struct {
	Identifier string    `json:"identifier"`
	Mode       oprf.Mode `json:"mode"`
	SkSm       hexBytes  `json:"skSm"`
	PkSm       hexBytes  `json:"pkSm"`
	Seed       hexBytes  `json:"seed"`
	KeyInfo    hexBytes  `json:"keyInfo"`
	GroupDST   hexBytes  `json:"groupDST"`
	Vectors    []vector  `json:"vectors"`
}

type vector struct {
	Batch             int      `json:"Batch"`
	Input             hexList  `json:"Input"`
	Info              hexBytes `json:"Info"`
	Blind             hexList  `json:"Blind"`
	BlindedElement    hexList  `json:"BlindedElement"`
	EvaluationElement hexList  `json:"EvaluationElement"`
	Output            hexList  `json:"Output"`
	Proof             struct {
		Proof hexBytes `json:"proof"`
		R     hexBytes `json:"r"`
	} `json:"Proof"`
}

// loadVectors reads the vector file and checks that it holds the three
// modes of the suite, so that a truncated file cannot pass silently.
func loadVectors(tb testing.TB) map[oprf.Mode]suiteVectors {
	tb.Helper()
	data, err := os.ReadFile(vectorFile)
	if err != nil {
		tb.Fatal(err)
	}
	var all []suiteVectors
	if err := json.Unmarshal(data, &all); err != nil {
		tb.Fatal(err)
	}
	byMode := make(map[oprf.Mode]suiteVectors)
	for _, s := range all {
		if s.Identifier != oprf.SuiteID {
			tb.Fatalf("vector file holds suite %q", s.Identifier)
		}
		for i, v := range s.Vectors {
			n := v.Batch
			if n < 1 || len(v.Input) != n || len(v.Blind) != n || len(v.BlindedElement) != n ||
				len(v.EvaluationElement) != n || len(v.Output) != n {
				tb.Fatalf("mode %d vector %d: lists do not match batch %d", s.Mode, i, n)
			}
		}
		byMode[s.Mode] = s
	}
	for _, m := range []oprf.Mode{oprf.ModeOPRF, oprf.ModeVOPRF, oprf.ModePOPRF} {
		if len(byMode[m].Vectors) < 2 {
			tb.Fatalf("vector file lacks mode %d", m)
		}
	}
	return byMode
}

func TestRFC9497Vectors(t *testing.T) {
	for mode, s := range loadVectors(t) {
		t.Run(fmt.Sprintf("mode%d", mode), func(t *testing.T) {
			if got := oprf.HashToGroupDSTForTest(mode); !bytes.Equal(got, s.GroupDST) {
				t.Fatalf("HashToGroup DST %q, want %q", got, s.GroupDST)
			}
			sk, err := oprf.ParsePrivateKey(s.SkSm)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(sk.Bytes(), s.SkSm) {
				t.Fatal("private key does not round-trip")
			}
			checkDerivedKey(t, s)
			pk := sk.Public()
			if mode != oprf.ModeOPRF && !bytes.Equal(pk.Bytes(), s.PkSm) {
				t.Fatalf("public key %x, want %x", pk.Bytes(), s.PkSm)
			}
			for i, v := range s.Vectors {
				t.Run(fmt.Sprint(i), func(t *testing.T) { runVector(t, mode, sk, v) })
			}
		})
	}
}

// checkDerivedKey ties the vector's key to its seed with circl's
// DeriveKeyPair (RFC 9497 Section 3.2.1).
func checkDerivedKey(t *testing.T, s suiteVectors) {
	t.Helper()
	derived, err := circl.DeriveKey(circl.SuiteRistretto255, circl.Mode(s.Mode), s.Seed, s.KeyInfo)
	if err != nil {
		t.Fatal(err)
	}
	b, err := derived.MarshalBinary()
	if err != nil || !bytes.Equal(b, s.SkSm) {
		t.Fatalf("DeriveKeyPair(seed) = %x, %v; want skSm", b, err)
	}
}

func runVector(t *testing.T, mode oprf.Mode, sk *oprf.PrivateKey, v vector) {
	b, err := oprf.BlindWithScalars(mode, v.Input, v.Blind)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Destroy()
	blinded := b.Elements()
	assertLists(t, "blinded elements", blinded, v.BlindedElement)
	if got := oprf.ConcatElements(blinded); !bytes.Equal(got, bytes.Join(v.BlindedElement, nil)) {
		t.Fatal("ConcatElements differs from the joined elements")
	}

	pk := sk.Public()
	var evaluated, outputs [][]byte
	var proof []byte
	switch mode {
	case oprf.ModeOPRF:
		evaluated, err = sk.EvaluateOPRFBlinded(blinded)
		mustNot(t, err)
		outputs, err = b.FinalizeOPRF(evaluated)
		for j, in := range v.Input {
			full, err := sk.EvaluateOPRF(in)
			mustNot(t, err)
			assertLists(t, "EvaluateOPRF", [][]byte{full}, v.Output[j:j+1])
		}
	case oprf.ModeVOPRF:
		evaluated, proof, err = sk.EvaluateVOPRFWithProofScalar(v.Proof.R, blinded)
		mustNot(t, err)
		mustNot(t, oprf.VerifyVOPRF(pk, blinded, evaluated, proof))
		outputs, err = b.FinalizeVOPRF(pk, evaluated, proof)
	case oprf.ModePOPRF:
		evaluated, proof, err = sk.EvaluatePOPRFWithProofScalar(v.Proof.R, blinded, v.Info)
		mustNot(t, err)
		mustNot(t, oprf.VerifyPOPRF(pk, v.Info, blinded, evaluated, proof))
		outputs, err = b.FinalizePOPRF(pk, v.Info, evaluated, proof)
	}
	mustNot(t, err)
	assertLists(t, "evaluated elements", evaluated, v.EvaluationElement)
	if !bytes.Equal(proof, v.Proof.Proof) {
		t.Errorf("proof %x, want %x", proof, v.Proof.Proof)
	}
	assertLists(t, "outputs", outputs, v.Output)
}

func assertLists(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("%s[%d] = %x, want %x", what, i, got[i], want[i])
		}
	}
}

func mustNot(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

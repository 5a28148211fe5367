package threshold

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	circl "github.com/cloudflare/circl/oprf"

	"github.com/assent-dev/assent/oprf"
)

const (
	testUser   = "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	testRecord = "0190a8f2-7b3c-7def-8123-456789abcdef"
)

type party struct {
	kD, kS *oprf.PrivateKey
	x      []byte
}

func newParty(t testing.TB, seed string) party {
	t.Helper()
	r := testRand(seed)
	kD, err := oprf.GenerateKey(r)
	if err != nil {
		t.Fatal(err)
	}
	kS, err := oprf.GenerateKey(r)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]byte, 32)
	r.Read(x)
	return party{kD: kD, kS: kS, x: x}
}

// deviceAnswer plays the device: it builds the info itself from the ids it
// is shown and evaluates the blinded element with proof.
func deviceAnswer(t testing.TB, kD *oprf.PrivateKey, uid, rid string, blinded [][]byte) (evaluated [][]byte, proof []byte) {
	t.Helper()
	info, err := RecordInfo(uid, rid)
	if err != nil {
		t.Fatal(err)
	}
	evaluated, proof, err = kD.EvaluatePOPRF(testRand("proof"+uid+rid), blinded, info)
	if err != nil {
		t.Fatal(err)
	}
	return evaluated, proof
}

// directKEK computes the KEK without blinding, through circl/oprf's own
// evaluators, as a check independent of the oprf package.
func directKEK(t testing.TB, p party, uid, rid string) []byte {
	t.Helper()
	info, _ := RecordInfo(uid, rid)
	var kD, kS circl.PrivateKey
	if err := kD.UnmarshalBinary(circl.SuiteRistretto255, p.kD.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := kS.UnmarshalBinary(circl.SuiteRistretto255, p.kS.Bytes()); err != nil {
		t.Fatal(err)
	}
	yD, err := circl.NewPartialObliviousServer(circl.SuiteRistretto255, &kD).FullEvaluate(p.x, info)
	if err != nil {
		t.Fatal(err)
	}
	yS, err := circl.NewServer(circl.SuiteRistretto255, &kS).FullEvaluate(p.x)
	if err != nil {
		t.Fatal(err)
	}
	info = binary.BigEndian.AppendUint16(nil, uint16(len(uid)))
	info = append(info, uid...)
	info = binary.BigEndian.AppendUint16(info, uint16(len(rid)))
	info = append(info, rid...)
	return hkdfByHand(append(yS, yD...), []byte(LabelKEK), info)
}

func blindX(t testing.TB, x []byte, seed string) *oprf.Blinding {
	t.Helper()
	b, err := oprf.Blind(testRand(seed), [][]byte{x})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRecordKEKMatchesDirectComputation(t *testing.T) {
	p := newParty(t, "compose")
	want := directKEK(t, p, testUser, testRecord)

	// Sealing: blind, device answers, server derives the KEK and wraps.
	b := blindX(t, p.x, "blind1")
	ev, proof := deviceAnswer(t, p.kD, testUser, testRecord, b.Elements())
	kek, err := RecordKEK(b, p.kD.Public(), p.kS, p.x, testUser, testRecord, ev, proof)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(kek, want) {
		t.Fatalf("RecordKEK = %x, direct computation = %x", kek, want)
	}
	dek := bytes.Repeat([]byte{0xd0}, 32)
	ad, _ := WrapAD(testUser, testRecord, bytes.Repeat([]byte{1}, 32), 100)
	wrapped, err := WrapDEK(testRand("n"), kek, dek, ad)
	if err != nil {
		t.Fatal(err)
	}

	// Access: fresh blind of the same x gives the same KEK, which unwraps.
	b2 := blindX(t, p.x, "blind2")
	if bytes.Equal(b2.Elements()[0], b.Elements()[0]) {
		t.Fatal("two blindings of x look alike")
	}
	ev2, proof2 := deviceAnswer(t, p.kD, testUser, testRecord, b2.Elements())
	kek2, err := RecordKEK(b2, p.kD.Public(), p.kS, p.x, testUser, testRecord, ev2, proof2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnwrapDEK(kek2, wrapped, ad)
	if err != nil || !bytes.Equal(got, dek) {
		t.Fatalf("DEK after access: %v", err)
	}

	// DeviceOutput alone gives yD, which circl's full evaluation confirms.
	b3 := blindX(t, p.x, "blind3")
	ev3, proof3 := deviceAnswer(t, p.kD, testUser, testRecord, b3.Elements())
	yD, err := DeviceOutput(b3, p.kD.Public(), testUser, testRecord, ev3, proof3)
	if err != nil || len(yD) != 64 {
		t.Fatalf("DeviceOutput: %d bytes, %v", len(yD), err)
	}
	yS, _ := p.kS.EvaluateOPRF(p.x)
	if k, _ := DeriveKEK(yS, yD, testUser, testRecord); !bytes.Equal(k, want) {
		t.Fatal("DeviceOutput + EvaluateOPRF + DeriveKEK differs from RecordKEK")
	}
}

func TestRecordKEKRejects(t *testing.T) {
	p := newParty(t, "compose")
	other := newParty(t, "other")
	want := directKEK(t, p, testUser, testRecord)
	pkD := p.kD.Public()

	type answer struct {
		b        *oprf.Blinding
		ev       [][]byte
		proof    []byte
		pk       *oprf.PublicKey
		share    *oprf.PrivateKey
		uid, rid string
	}
	honest := func(seed string) answer {
		b := blindX(t, p.x, seed)
		ev, proof := deviceAnswer(t, p.kD, testUser, testRecord, b.Elements())
		return answer{b, ev, proof, pkD, p.kS, testUser, testRecord}
	}
	errCases := map[string]struct {
		a    func() answer
		want error
	}{
		"other device key": {func() answer {
			a := honest("b")
			a.ev, a.proof = deviceAnswer(t, other.kD, testUser, testRecord, a.b.Elements())
			return a
		}, oprf.ErrProof},
		"device used another user": {func() answer {
			a := honest("b")
			a.ev, a.proof = deviceAnswer(t, p.kD, "usr_other", testRecord, a.b.Elements())
			return a
		}, oprf.ErrProof},
		"device used another record": {func() answer {
			a := honest("b")
			a.ev, a.proof = deviceAnswer(t, p.kD, testUser, "0190a8f2-7b3c-7def-8123-000000000000", a.b.Elements())
			return a
		}, oprf.ErrProof},
		"server asks for another user":   {func() answer { a := honest("b"); a.uid = "usr_other"; return a }, oprf.ErrProof},
		"server asks for another record": {func() answer { a := honest("b"); a.rid = "rec_other"; return a }, oprf.ErrProof},
		"answer to another blinding": {func() answer {
			a := honest("b")
			a.b = blindX(t, p.x, "c")
			return a
		}, oprf.ErrProof},
		"flipped proof": {func() answer {
			a := honest("b")
			a.proof = bytes.Clone(a.proof)
			a.proof[3] ^= 1
			return a
		}, nil},
		"flipped element": {func() answer {
			a := honest("b")
			a.ev = [][]byte{bytes.Clone(a.ev[0])}
			a.ev[0][5] ^= 1
			return a
		}, nil},
		"no element":      {func() answer { a := honest("b"); a.ev = nil; return a }, oprf.ErrBatch},
		"two elements":    {func() answer { a := honest("b"); a.ev = append(a.ev, a.ev[0]); return a }, oprf.ErrBatch},
		"short proof":     {func() answer { a := honest("b"); a.proof = a.proof[:63]; return a }, oprf.ErrEncoding},
		"destroyed blind": {func() answer { a := honest("b"); a.b.Destroy(); return a }, oprf.ErrDestroyed},
		"destroyed share": {func() answer {
			a := honest("b")
			k, _ := oprf.ParsePrivateKey(p.kS.Bytes())
			k.Destroy()
			a.share = k
			return a
		}, oprf.ErrDestroyed},
		"long user id": {func() answer { a := honest("b"); a.uid = string(make([]byte, 70000)); return a }, ErrTooLong},
	}
	for name, c := range errCases {
		a := c.a()
		kek, err := RecordKEK(a.b, a.pk, a.share, p.x, a.uid, a.rid, a.ev, a.proof)
		if err == nil || kek != nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: KEK %x, %v; want %v", name, kek, err, c.want)
		}
	}

	// Answers that verify but must give another KEK.
	kekCases := map[string]func() answer{
		"other device key with its own public key": func() answer {
			a := honest("b")
			a.ev, a.proof = deviceAnswer(t, other.kD, testUser, testRecord, a.b.Elements())
			a.pk = other.kD.Public()
			return a
		},
		"other server share": func() answer { a := honest("b"); a.share = other.kS; return a },
	}
	for name, mk := range kekCases {
		a := mk()
		kek, err := RecordKEK(a.b, a.pk, a.share, p.x, a.uid, a.rid, a.ev, a.proof)
		if err != nil || bytes.Equal(kek, want) {
			t.Errorf("%s: %v; want another KEK", name, err)
		}
	}

	// A Blinding of two inputs is not a record's.
	b2, _ := oprf.Blind(testRand("two"), [][]byte{p.x, p.x})
	ev, proof := deviceAnswer(t, p.kD, testUser, testRecord, b2.Elements())
	if _, err := DeviceOutput(b2, pkD, testUser, testRecord, ev, proof); !errors.Is(err, oprf.ErrBatch) {
		t.Errorf("two-input blinding: %v, want ErrBatch", err)
	}
}

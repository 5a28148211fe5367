package oprf_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/assent-dev/assent/oprf"
	"github.com/cloudflare/circl/group"
)

// badElementHex are 32-byte strings that are no ristretto255 element:
// RFC 9496 Appendix A.2 ("Invalid Encodings"), in its order.
var badElementHex = []string{
	// Non-canonical field encodings.
	"00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	// Negative field elements.
	"0100000000000000000000000000000000000000000000000000000000000000",
	"01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	"ed57ffd8c914fb201471d1c3d245ce3c746fcbe63a3679d51b6a516ebebe0e20",
	"c34c4e1826e5d403b78e246e88aa051c36ccf0aafebffe137d148a2bf9104562",
	"c940e5a4404157cfb1628b108db051a8d439e1a421394ec4ebccb9ec92a8ac78",
	"47cfc5497c53dc8e61c91d17fd626ffb1c49e2bca94eed052281b510b1117a24",
	"f1c6165d33367351b0da8f6e4511010c68174a03b6581212c71c0e1d026c3c72",
	"87260f7a2f12495118360f02c26a470f450dadf34a413d21042b43b9d93e1309",
	// Non-square x^2.
	"26948d35ca62e643e26a83177332e6b6afeb9d08e4268b650f1f5bbd8d81d371",
	"4eac077a713c57b4f4397629a4145982c661f48044dd3f96427d40b147d9742f",
	"de6a7b00deadc788eb6b6c8d20c0ae96c2f2019078fa604fee5b87d6e989ad7b",
	"bcab477be20861e01e4a0e295284146a510150d9817763caf1a6f4b422d67042",
	"2a292df7e32cababbd9de088d1d1abec9fc0440f637ed2fba145094dc14bea08",
	"f4a9e534fc0d216c44b218fa0c42d99635a0127ee2e53c712f70609649fdff22",
	"8268436f8c4126196cf64b3c7ddbda90746a378625f9813dd9b8457077256731",
	"2810e5cbc2cc4d4eece54f61c6f69758e289aa7ab440b3cbeaa21995c2f4232b",
	// Negative xy value.
	"3eb858e78f5a7254d8c9731174a94f76755fd3941c0ac93735c07ba14579630e",
	"a45fdc55c76448c049a1ab33f17023edfb2be3581e9c7aade8a6125215e04220",
	"d483fe813c6ba647ebbfd3ec41adca1c6130c2beeee9d9bf065c8d151c5f396e",
	"8a2e1d30050198c65a54483123960ccc38aef6848e1ec8f5f780e8523769ba32",
	"32888462f8b486c68ad7dd9610be5192bbeaf3b443951ac1a8118419d9fa097b",
	"227142501b9d4355ccba290404bde41575b037693cef1f438c47f8fbf35d1165",
	"5c37cc491da847cfeb9281d407efc41e15144c876e0170b499a96a22ed31e01e",
	"445425117cb8c90edcbc7c1cc0e74f747f2c1efa5630a967c64f287792a48a4b",
	// s = -1, which causes y = 0.
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
}

// scalarL is the group order l, little-endian: the smallest non-canonical
// scalar encoding.
const scalarL = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010"

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// badElements lists malformed element encodings around a valid one.
func badElements(t testing.TB, valid []byte) map[string][]byte {
	t.Helper()
	highBit := bytes.Clone(valid)
	highBit[31] |= 0x80
	out := map[string][]byte{
		"nil":           nil,
		"31 bytes":      valid[:31],
		"trailing":      append(bytes.Clone(valid), 0),
		"64 bytes":      append(bytes.Clone(valid), valid...),
		"identity":      make([]byte, 32),
		"bit 255 set":   highBit,
		"all ones 0xff": bytes.Repeat([]byte{0xff}, 32),
	}
	for i, h := range badElementHex {
		out[fmt.Sprintf("RFC 9496 A.2 #%d", i)] = unhex(t, h)
	}
	return out
}

// badScalars lists malformed scalar encodings around a valid one.
func badScalars(t testing.TB, valid []byte) map[string][]byte {
	t.Helper()
	lPlus1 := unhex(t, scalarL)
	lPlus1[0]++
	oneHigh := make([]byte, 32)
	oneHigh[0], oneHigh[31] = 1, 0x80
	return map[string][]byte{
		"nil":              nil,
		"31 bytes":         valid[:31],
		"trailing":         append(bytes.Clone(valid), 0),
		"zero":             make([]byte, 32),
		"l":                unhex(t, scalarL),
		"l+1":              lPlus1,
		"all ones":         bytes.Repeat([]byte{0xff}, 32),
		"one with bit 255": oneHigh,
	}
}

// poprfCase is a valid POPRF exchange (RFC 9497 A.1.1.3, batch of 2) that
// the tests below break one part at a time.
type poprfCase struct {
	sk                 *oprf.PrivateKey
	pk                 *oprf.PublicKey
	info               []byte
	b                  *oprf.Blinding
	blinded, evaluated [][]byte
	proof              []byte
	outputs            [][]byte
}

func newPOPRFCase(t *testing.T) poprfCase {
	t.Helper()
	s := loadVectors(t)[oprf.ModePOPRF]
	v := s.Vectors[len(s.Vectors)-1]
	if v.Batch < 2 {
		t.Fatal("want a batch vector")
	}
	sk, err := oprf.ParsePrivateKey(s.SkSm)
	mustNot(t, err)
	b, err := oprf.BlindWithScalars(oprf.ModePOPRF, v.Input, v.Blind)
	mustNot(t, err)
	t.Cleanup(b.Destroy)
	c := poprfCase{sk: sk, pk: sk.Public(), info: v.Info, b: b, blinded: b.Elements(),
		evaluated: v.EvaluationElement, proof: v.Proof.Proof, outputs: v.Output}
	mustNot(t, c.verify(c.blinded, c.evaluated, c.proof))
	return c
}

func (c poprfCase) verify(blinded, evaluated [][]byte, proof []byte) error {
	return oprf.VerifyPOPRF(c.pk, c.info, blinded, evaluated, proof)
}

// finalize checks that a failing FinalizePOPRF returns no outputs.
func (c poprfCase) finalize(t *testing.T, evaluated [][]byte, proof []byte) error {
	t.Helper()
	out, err := c.b.FinalizePOPRF(c.pk, c.info, evaluated, proof)
	if err != nil && out != nil {
		t.Errorf("FinalizePOPRF returned outputs with error %v", err)
	}
	return err
}

func (c poprfCase) evaluate(blinded [][]byte) error {
	_, _, err := c.sk.EvaluatePOPRF(rand.Reader, blinded, c.info)
	return err
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

func replaced(list [][]byte, i int, e []byte) [][]byte {
	out := slices.Clone(list)
	out[i] = e
	return out
}

func TestParsePublicKeyStrict(t *testing.T) {
	c := newPOPRFCase(t)
	for name, b := range badElements(t, c.pk.Bytes()) {
		k, err := oprf.ParsePublicKey(b)
		wantErr(t, name, err, oprf.ErrEncoding)
		if k != nil {
			t.Errorf("%s: got a key", name)
		}
	}
	k, err := oprf.ParsePublicKey(c.pk.Bytes())
	mustNot(t, err)
	if !k.Equal(c.pk) {
		t.Fatal("parsed key differs")
	}
}

func TestParsePrivateKeyStrict(t *testing.T) {
	c := newPOPRFCase(t)
	for name, b := range badScalars(t, c.sk.Bytes()) {
		k, err := oprf.ParsePrivateKey(b)
		wantErr(t, name, err, oprf.ErrEncoding)
		if k != nil {
			t.Errorf("%s: got a key", name)
		}
		if err != nil && len(b) > 2 && strings.Contains(err.Error(), hex.EncodeToString(b[:3])) {
			t.Errorf("%s: error %q shows key bytes", name, err)
		}
	}
}

func TestElementsStrictEverywhere(t *testing.T) {
	c := newPOPRFCase(t)
	for name, e := range badElements(t, c.blinded[1]) {
		blinded := replaced(c.blinded, 1, e)
		evaluated := replaced(c.evaluated, 1, e)
		wantErr(t, "EvaluatePOPRF "+name, c.evaluate(blinded), oprf.ErrEncoding)
		wantErr(t, "VerifyPOPRF blinded "+name, c.verify(blinded, c.evaluated, c.proof), oprf.ErrEncoding)
		wantErr(t, "VerifyPOPRF evaluated "+name, c.verify(c.blinded, evaluated, c.proof), oprf.ErrEncoding)
		wantErr(t, "FinalizePOPRF "+name, c.finalize(t, evaluated, c.proof), oprf.ErrEncoding)
	}
}

func TestBatchLimits(t *testing.T) {
	c := newPOPRFCase(t)
	for _, n := range []int{0, oprf.MaxBatch + 1} {
		many := slices.Repeat(c.blinded[:1], n)
		wantErr(t, fmt.Sprint("EvaluatePOPRF ", n), c.evaluate(many), oprf.ErrBatch)
		wantErr(t, fmt.Sprint("VerifyPOPRF ", n), c.verify(many, many, c.proof), oprf.ErrBatch)
		_, err := oprf.Blind(rand.Reader, slices.Repeat([][]byte{[]byte("x")}, n))
		wantErr(t, fmt.Sprint("Blind ", n), err, oprf.ErrBatch)
	}
	wantErr(t, "EvaluatePOPRF nil", c.evaluate(nil), oprf.ErrBatch)
	wantErr(t, "VerifyPOPRF short evaluated", c.verify(c.blinded, c.evaluated[:1], c.proof), oprf.ErrBatch)
	wantErr(t, "VerifyPOPRF long evaluated", c.verify(c.blinded[:1], c.evaluated, c.proof), oprf.ErrBatch)
	wantErr(t, "FinalizePOPRF short", c.finalize(t, c.evaluated[:1], c.proof), oprf.ErrBatch)
	wantErr(t, "FinalizePOPRF long", c.finalize(t, append(c.evaluated, c.evaluated[0]), c.proof), oprf.ErrBatch)
	_, err := oprf.BlindWithScalars(oprf.ModePOPRF, [][]byte{{1}, {2}}, [][]byte{c.sk.Bytes()})
	wantErr(t, "BlindWithScalars counts", err, oprf.ErrBatch)

	// MaxBatch itself works end to end.
	inputs := make([][]byte, oprf.MaxBatch)
	for i := range inputs {
		inputs[i] = []byte{byte(i)}
	}
	b, err := oprf.Blind(rand.Reader, inputs)
	mustNot(t, err)
	defer b.Destroy()
	ev, proof, err := c.sk.EvaluatePOPRF(rand.Reader, b.Elements(), c.info)
	mustNot(t, err)
	mustNot(t, c.verify(b.Elements(), ev, proof))
	out, err := b.FinalizePOPRF(c.pk, c.info, ev, proof)
	mustNot(t, err)
	if len(out) != oprf.MaxBatch {
		t.Fatalf("%d outputs", len(out))
	}
}

func TestBlindsStrict(t *testing.T) {
	c := newPOPRFCase(t)
	for name, s := range badScalars(t, c.sk.Bytes()) {
		_, err := oprf.BlindWithScalars(oprf.ModePOPRF, [][]byte{{1}, {2}}, [][]byte{c.sk.Bytes(), s})
		wantErr(t, "blind "+name, err, oprf.ErrEncoding)
		_, _, err = c.sk.EvaluatePOPRFWithProofScalar(s, c.blinded, c.info)
		wantErr(t, "proof scalar "+name, err, oprf.ErrEncoding)
	}
}

func TestProofMalformed(t *testing.T) {
	c := newPOPRFCase(t)
	cases := map[string][]byte{
		"nil":      nil,
		"63 bytes": c.proof[:63],
		"trailing": append(bytes.Clone(c.proof), 0),
	}
	for name, s := range badScalars(t, c.proof[:32]) {
		if len(s) == oprf.ScalarSize {
			cases["c "+name] = append(bytes.Clone(s), c.proof[32:]...)
			cases["s "+name] = append(bytes.Clone(c.proof[:32]), s...)
		}
	}
	for name, p := range cases {
		wantErr(t, "VerifyPOPRF "+name, c.verify(c.blinded, c.evaluated, p), oprf.ErrEncoding)
		wantErr(t, "FinalizePOPRF "+name, c.finalize(t, c.evaluated, p), oprf.ErrEncoding)
	}
}

func TestProofRejected(t *testing.T) {
	c := newPOPRFCase(t)
	other, err := oprf.GenerateKey(rand.Reader)
	mustNot(t, err)
	otherEval, otherProof, err := other.EvaluatePOPRF(rand.Reader, c.blinded, c.info)
	mustNot(t, err)
	vEval, vProof, err := c.sk.EvaluateVOPRF(rand.Reader, c.blinded)
	mustNot(t, err)
	_, singleProof, err := c.sk.EvaluatePOPRF(rand.Reader, c.blinded[:1], c.info)
	mustNot(t, err)
	flipC, flipS := bytes.Clone(c.proof), bytes.Clone(c.proof)
	flipC[0] ^= 1
	flipS[32] ^= 1

	cases := []struct {
		name      string
		pk        *oprf.PublicKey
		info      []byte
		evaluated [][]byte
		proof     []byte
	}{
		{"c flipped", c.pk, c.info, c.evaluated, flipC},
		{"s flipped", c.pk, c.info, c.evaluated, flipS},
		{"other info", c.pk, []byte("test infO"), c.evaluated, c.proof},
		{"empty info", c.pk, nil, c.evaluated, c.proof},
		{"other public key", other.Public(), c.info, c.evaluated, c.proof},
		{"other key's evaluation", c.pk, c.info, otherEval, otherProof},
		{"other key's evaluation, our proof", c.pk, c.info, otherEval, c.proof},
		{"evaluated swapped", c.pk, c.info, [][]byte{c.evaluated[1], c.evaluated[0]}, c.proof},
		{"evaluated = blinded", c.pk, c.info, c.blinded, c.proof},
		{"VOPRF evaluation", c.pk, c.info, vEval, vProof},
		{"proof of a sub-batch", c.pk, c.info, c.evaluated, singleProof},
	}
	for _, tc := range cases {
		err := oprf.VerifyPOPRF(tc.pk, tc.info, c.blinded, tc.evaluated, tc.proof)
		wantErr(t, "VerifyPOPRF "+tc.name, err, oprf.ErrProof)
		out, err := c.b.FinalizePOPRF(tc.pk, tc.info, tc.evaluated, tc.proof)
		wantErr(t, "FinalizePOPRF "+tc.name, err, oprf.ErrProof)
		if out != nil {
			t.Errorf("%s: outputs despite a bad proof", tc.name)
		}
	}
	// The same blinding still finalizes with the genuine answer.
	out, err := c.b.FinalizePOPRF(c.pk, c.info, c.evaluated, c.proof)
	mustNot(t, err)
	assertLists(t, "outputs", out, c.outputs)
}

func TestLengthLimits(t *testing.T) {
	c := newPOPRFCase(t)
	longest := bytes.Repeat([]byte{'i'}, oprf.MaxInputSize)
	tooLong := append(bytes.Clone(longest), 'i')

	ev, proof, err := c.sk.EvaluatePOPRF(rand.Reader, c.blinded, longest)
	mustNot(t, err)
	mustNot(t, oprf.VerifyPOPRF(c.pk, longest, c.blinded, ev, proof))
	_, err = c.b.FinalizePOPRF(c.pk, longest, ev, proof)
	mustNot(t, err)

	_, _, err = c.sk.EvaluatePOPRF(rand.Reader, c.blinded, tooLong)
	wantErr(t, "EvaluatePOPRF info", err, oprf.ErrTooLong)
	wantErr(t, "VerifyPOPRF info", oprf.VerifyPOPRF(c.pk, tooLong, c.blinded, ev, proof), oprf.ErrTooLong)
	_, err = c.b.FinalizePOPRF(c.pk, tooLong, ev, proof)
	wantErr(t, "FinalizePOPRF info", err, oprf.ErrTooLong)

	b, err := oprf.Blind(rand.Reader, [][]byte{longest})
	mustNot(t, err)
	b.Destroy()
	_, err = c.sk.EvaluateOPRF(longest)
	mustNot(t, err)
	_, err = oprf.Blind(rand.Reader, [][]byte{{1}, tooLong})
	wantErr(t, "Blind input", err, oprf.ErrTooLong)
	_, err = c.sk.EvaluateOPRF(tooLong)
	wantErr(t, "EvaluateOPRF input", err, oprf.ErrTooLong)
}

func TestModeMismatch(t *testing.T) {
	c := newPOPRFCase(t)
	_, err := oprf.BlindMode(rand.Reader, 3, [][]byte{{1}})
	wantErr(t, "BlindMode 3", err, oprf.ErrMode)
	_, err = oprf.BlindWithScalars(0xff, [][]byte{{1}}, [][]byte{c.sk.Bytes()})
	wantErr(t, "BlindWithScalars 0xff", err, oprf.ErrMode)

	vb, err := oprf.BlindMode(rand.Reader, oprf.ModeVOPRF, [][]byte{{1}, {2}})
	mustNot(t, err)
	defer vb.Destroy()
	_, err = vb.FinalizePOPRF(c.pk, c.info, c.evaluated, c.proof)
	wantErr(t, "POPRF finalize of a VOPRF blinding", err, oprf.ErrMode)
	_, err = vb.FinalizeOPRF(c.evaluated)
	wantErr(t, "OPRF finalize of a VOPRF blinding", err, oprf.ErrMode)
	_, err = c.b.FinalizeVOPRF(c.pk, c.evaluated, c.proof)
	wantErr(t, "VOPRF finalize of a POPRF blinding", err, oprf.ErrMode)
}

// TestInverse builds the key that info cancels, k = -m(info).
func TestInverse(t *testing.T) {
	info := []byte("cancelled")
	m := group.Ristretto255.NewScalar()
	mustNot(t, m.UnmarshalBinary(oprf.InfoScalarForTest(info)))
	neg, err := group.Ristretto255.NewScalar().Neg(m).MarshalBinary()
	mustNot(t, err)
	sk, err := oprf.ParsePrivateKey(neg)
	mustNot(t, err)

	b, err := oprf.Blind(rand.Reader, [][]byte{[]byte("x")})
	mustNot(t, err)
	defer b.Destroy()
	_, _, err = sk.EvaluatePOPRF(rand.Reader, b.Elements(), info)
	wantErr(t, "EvaluatePOPRF", err, oprf.ErrInverse)

	// Any well-formed answer: the check must fail before the proof.
	c := newPOPRFCase(t)
	wantErr(t, "VerifyPOPRF", oprf.VerifyPOPRF(sk.Public(), info, c.blinded, c.evaluated, c.proof), oprf.ErrInverse)
	_, err = c.b.FinalizePOPRF(sk.Public(), info, c.evaluated, c.proof)
	wantErr(t, "FinalizePOPRF", err, oprf.ErrInverse)

	// Other info works with the same key.
	ev, proof, err := sk.EvaluatePOPRF(rand.Reader, b.Elements(), []byte("other"))
	mustNot(t, err)
	_, err = b.FinalizePOPRF(sk.Public(), []byte("other"), ev, proof)
	mustNot(t, err)
}

func TestDestroy(t *testing.T) {
	c := newPOPRFCase(t)
	sk, err := oprf.ParsePrivateKey(c.sk.Bytes())
	mustNot(t, err)
	pk := sk.Public()
	sk.Destroy()
	sk.Destroy()
	if sk.Bytes() != nil {
		t.Error("Bytes after Destroy")
	}
	if !sk.Public().Equal(pk) {
		t.Error("Public changed by Destroy")
	}
	for _, k := range []*oprf.PrivateKey{sk, new(oprf.PrivateKey), nil} {
		_, _, err = k.EvaluatePOPRF(rand.Reader, c.blinded, c.info)
		wantErr(t, "EvaluatePOPRF", err, oprf.ErrDestroyed)
		_, _, err = k.EvaluateVOPRF(rand.Reader, c.blinded)
		wantErr(t, "EvaluateVOPRF", err, oprf.ErrDestroyed)
		_, err = k.EvaluateOPRFBlinded(c.blinded)
		wantErr(t, "EvaluateOPRFBlinded", err, oprf.ErrDestroyed)
		_, err = k.EvaluateOPRF([]byte("x"))
		wantErr(t, "EvaluateOPRF", err, oprf.ErrDestroyed)
	}

	input := []byte("caller's input")
	b, err := oprf.Blind(rand.Reader, [][]byte{input})
	mustNot(t, err)
	b.Destroy()
	if string(input) != "caller's input" {
		t.Error("Destroy cleared the caller's input")
	}
	if b.Elements() != nil {
		t.Error("Elements after Destroy")
	}
	for _, bl := range []*oprf.Blinding{b, new(oprf.Blinding), nil} {
		_, err = bl.FinalizePOPRF(c.pk, c.info, c.evaluated, c.proof)
		wantErr(t, "FinalizePOPRF", err, oprf.ErrDestroyed)
	}

	for _, k := range []*oprf.PublicKey{nil, new(oprf.PublicKey)} {
		wantErr(t, "VerifyPOPRF without key", oprf.VerifyPOPRF(k, c.info, c.blinded, c.evaluated, c.proof), oprf.ErrEncoding)
		_, err = c.b.FinalizePOPRF(k, c.info, c.evaluated, c.proof)
		wantErr(t, "FinalizePOPRF without key", err, oprf.ErrEncoding)
		if k.Equal(c.pk) || k.Bytes() != nil {
			t.Error("a missing key equals a real one")
		}
	}
}

// TestCopies checks that no returned slice aliases internal state and that
// the key does not keep the caller's buffer.
func TestCopies(t *testing.T) {
	c := newPOPRFCase(t)
	enc := c.sk.Bytes()
	sk, err := oprf.ParsePrivateKey(enc)
	mustNot(t, err)
	clear(enc)
	sk.Bytes()[0] ^= 1
	c.b.Elements()[0][0] ^= 1
	sk.Public().Bytes()[0] ^= 1
	if !bytes.Equal(sk.Bytes(), c.sk.Bytes()) || !sk.Public().Equal(c.pk) {
		t.Fatal("key changed through a returned or given slice")
	}
	assertLists(t, "elements", c.b.Elements(), c.blinded)
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestRandomness(t *testing.T) {
	c := newPOPRFCase(t)
	broken := errors.New("entropy gone")
	r := failingReader{broken}
	_, err := oprf.GenerateKey(r)
	wantErr(t, "GenerateKey", err, broken)
	_, err = oprf.Blind(r, [][]byte{{1}})
	wantErr(t, "Blind", err, broken)
	_, _, err = c.sk.EvaluatePOPRF(r, c.blinded, c.info)
	wantErr(t, "EvaluatePOPRF", err, broken)
	_, _, err = c.sk.EvaluateVOPRF(r, c.blinded)
	wantErr(t, "EvaluateVOPRF", err, broken)
	if _, err := oprf.GenerateKey(nil); err == nil {
		t.Error("GenerateKey(nil) succeeded")
	}
	if _, err := oprf.Blind(nil, [][]byte{{1}}); err == nil {
		t.Error("Blind(nil) succeeded")
	}
	if _, _, err := c.sk.EvaluatePOPRF(nil, c.blinded, c.info); err == nil {
		t.Error("EvaluatePOPRF(nil) succeeded")
	}

	// The reader passed in is the only source: same bytes, same results.
	seed := func(b byte) *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{b}, 4096)) }
	k1, err := oprf.GenerateKey(seed(1))
	mustNot(t, err)
	k2, err := oprf.GenerateKey(seed(1))
	mustNot(t, err)
	k3, err := oprf.GenerateKey(seed(2))
	mustNot(t, err)
	if !bytes.Equal(k1.Bytes(), k2.Bytes()) || bytes.Equal(k1.Bytes(), k3.Bytes()) {
		t.Error("GenerateKey does not follow its reader")
	}
	b1, err := oprf.Blind(seed(3), [][]byte{{1}})
	mustNot(t, err)
	b2, err := oprf.Blind(seed(3), [][]byte{{1}})
	mustNot(t, err)
	assertLists(t, "blinded", b1.Elements(), b2.Elements())
	_, p1, err := c.sk.EvaluatePOPRF(seed(4), c.blinded, c.info)
	mustNot(t, err)
	_, p2, err := c.sk.EvaluatePOPRF(seed(4), c.blinded, c.info)
	mustNot(t, err)
	_, p3, err := c.sk.EvaluatePOPRF(seed(5), c.blinded, c.info)
	mustNot(t, err)
	if !bytes.Equal(p1, p2) || bytes.Equal(p1, p3) {
		t.Error("proof randomness does not follow the reader")
	}
}

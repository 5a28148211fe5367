package threshold

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"testing"
	"time"

	circl "github.com/cloudflare/circl/oprf"

	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/oprf"
)

// BenchmarkApproval measures what the server spends on one create
// approval: blind x, check the device's signature over the statement,
// verify and finalize the POPRF, evaluate the server share, derive the KEK,
// wrap the DEK. "server" goes through this project's code; "primitives"
// makes the same circl/oprf and standard-library calls directly. The device's
// work (evaluation, signing) runs with the timer stopped in both.
func BenchmarkApproval(b *testing.B) {
	f := newApprovalFixture(b)
	b.Run("server", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			f.server(b, untimed(b))
		}
	})
	b.Run("primitives", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			f.primitives(b, untimed(b))
		}
	})
}

// untimed returns a function that runs the device's part with b's timer
// stopped.
func untimed(b *testing.B) func(func()) {
	return func(device func()) {
		b.StopTimer()
		device()
		b.StartTimer()
	}
}

// approvalFixture holds the keys and record of one create approval, in this
// project's types and in circl's.
type approvalFixture struct {
	party
	sk       ed25519.PrivateKey
	signPub  []byte
	pkDBytes []byte
	dek      []byte
	digest   []byte
	info     []byte
	kekInfo  string
	ad       []byte

	device *circl.PartialObliviousServer
	share  *circl.Server
}

const approvalSize = 7

func newApprovalFixture(tb testing.TB) *approvalFixture {
	f := &approvalFixture{party: newParty(tb, "bench")}
	f.sk = ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	f.signPub = f.sk.Public().(ed25519.PublicKey)
	f.pkDBytes = f.kD.Public().Bytes()
	f.dek = make([]byte, KeySize)
	sum := sha256.Sum256([]byte("content"))
	f.digest = sum[:]
	f.info, _ = RecordInfo(testUser, testRecord)
	f.kekInfo = string(f.info[len(LabelRecord):]) // lp(uid) || lp(rid)
	f.ad, _ = WrapAD(testUser, testRecord, f.digest, approvalSize)

	suite := circl.SuiteRistretto255
	var kD, kS circl.PrivateKey
	if err := kD.UnmarshalBinary(suite, f.kD.Bytes()); err != nil {
		tb.Fatal(err)
	}
	if err := kS.UnmarshalBinary(suite, f.kS.Bytes()); err != nil {
		tb.Fatal(err)
	}
	device := circl.NewPartialObliviousServer(suite, &kD)
	share := circl.NewServer(suite, &kS)
	f.device, f.share = &device, &share
	return f
}

func (f *approvalFixture) statement(blinded []byte) Statement {
	return Statement{
		RequestID: "req_bench", Kind: KindCreate, UserID: testUser, RecordID: testRecord,
		Decision: DecisionApprove, ContentSHA256: f.digest, RequesterID: "cli_bench", Purpose: "benchmark",
		BlindedElements: [][]byte{blinded}, ExpiresAt: time.Unix(1700000000, 0),
	}
}

// deviceSigns returns the statement bytes and the device's signature.
func (f *approvalFixture) deviceSigns(tb testing.TB, blinded []byte) (msg, sig []byte) {
	st := f.statement(blinded)
	msg, err := st.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return msg, Sign(f.sk, msg)
}

// server runs one approval through this package and package oprf; untimed
// runs the device's part.
func (f *approvalFixture) server(tb testing.TB, untimed func(func())) {
	bl, err := oprf.Blind(rand.Reader, [][]byte{f.x})
	if err != nil {
		tb.Fatal(err)
	}
	blinded := bl.Elements()

	var ev [][]byte
	var proof, sig []byte
	untimed(func() {
		ev, proof, err = f.kD.EvaluatePOPRF(rand.Reader, blinded, f.info)
		if err != nil {
			tb.Fatal(err)
		}
		_, sig = f.deviceSigns(tb, blinded[0])
	})

	st := f.statement(blinded[0])
	msg, err := st.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	if err := Verify(f.signPub, msg, sig); err != nil {
		tb.Fatal(err)
	}
	pkD, err := oprf.ParsePublicKey(f.pkDBytes)
	if err != nil {
		tb.Fatal(err)
	}
	kek, err := RecordKEK(bl, pkD, f.kS, f.x, testUser, testRecord, ev, proof)
	if err != nil {
		tb.Fatal(err)
	}
	ad, err := WrapAD(testUser, testRecord, f.digest, approvalSize)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := WrapDEK(rand.Reader, kek, f.dek, ad); err != nil {
		tb.Fatal(err)
	}
	secret.Clear(kek)
	bl.Destroy()
}

// primitives runs the same approval with direct circl/oprf and standard
// library calls.
func (f *approvalFixture) primitives(tb testing.TB, untimed func(func())) {
	suite := circl.SuiteRistretto255
	var pkD circl.PublicKey
	if err := pkD.UnmarshalBinary(suite, f.pkDBytes); err != nil {
		tb.Fatal(err)
	}
	client := circl.NewPartialObliviousClient(suite, &pkD)
	fin, req, err := client.Blind([][]byte{f.x})
	if err != nil {
		tb.Fatal(err)
	}
	blinded, _ := req.Elements[0].MarshalBinaryCompress()

	var evBytes, proofBytes, msg, sig []byte
	untimed(func() {
		eval, err := f.device.Evaluate(req, f.info)
		if err != nil {
			tb.Fatal(err)
		}
		evBytes, _ = eval.Elements[0].MarshalBinaryCompress()
		proofBytes, _ = eval.Proof.MarshalBinary()
		msg, sig = f.deviceSigns(tb, blinded)
	})

	if !ed25519.Verify(f.signPub, msg, sig) {
		tb.Fatal("signature does not verify")
	}
	yD, err := client.Finalize(fin, circlEvaluation(tb, evBytes, proofBytes), f.info)
	if err != nil {
		tb.Fatal(err)
	}
	yS, err := f.share.FullEvaluate(f.x)
	if err != nil {
		tb.Fatal(err)
	}
	kek, err := hkdf.Key(sha256.New, append(yS, yD[0]...), []byte(LabelKEK), f.kekInfo, KeySize)
	if err != nil {
		tb.Fatal(err)
	}
	block, _ := aes.NewCipher(kek)
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, 12)
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		tb.Fatal(err)
	}
	aead.Seal(nonce, nonce, f.dek, f.ad)
}

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
	p := newParty(b, "bench")
	sk := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	signPub := []byte(sk.Public().(ed25519.PublicKey))
	pkDBytes := p.kD.Public().Bytes()
	dek := make([]byte, KeySize)
	digest := sha256.Sum256([]byte("content"))
	const size = 7
	info, _ := RecordInfo(testUser, testRecord)
	statement := func(blinded []byte) Statement {
		return Statement{
			RequestID: "req_bench", Kind: KindCreate, UserID: testUser, RecordID: testRecord,
			Decision: DecisionApprove, ContentSHA256: digest[:], RequesterID: "cli_bench", Purpose: "benchmark",
			BlindedElements: [][]byte{blinded}, ExpiresAt: time.Unix(1700000000, 0),
		}
	}
	deviceSigns := func(blinded []byte) []byte {
		st := statement(blinded)
		msg, err := st.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		return Sign(sk, msg)
	}

	b.Run("server", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			bl, err := oprf.Blind(rand.Reader, [][]byte{p.x})
			if err != nil {
				b.Fatal(err)
			}
			blinded := bl.Elements()

			b.StopTimer()
			ev, proof, err := p.kD.EvaluatePOPRF(rand.Reader, blinded, info)
			if err != nil {
				b.Fatal(err)
			}
			sig := deviceSigns(blinded[0])
			b.StartTimer()

			st := statement(blinded[0])
			msg, err := st.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			if err := Verify(signPub, msg, sig); err != nil {
				b.Fatal(err)
			}
			pkD, err := oprf.ParsePublicKey(pkDBytes)
			if err != nil {
				b.Fatal(err)
			}
			kek, err := RecordKEK(bl, pkD, p.kS, p.x, testUser, testRecord, ev, proof)
			if err != nil {
				b.Fatal(err)
			}
			ad, err := WrapAD(testUser, testRecord, digest[:], size)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := WrapDEK(rand.Reader, kek, dek, ad); err != nil {
				b.Fatal(err)
			}
			secret.Clear(kek)
			bl.Destroy()
		}
	})

	b.Run("primitives", func(b *testing.B) {
		suite := circl.SuiteRistretto255
		var kD, kS circl.PrivateKey
		if err := kD.UnmarshalBinary(suite, p.kD.Bytes()); err != nil {
			b.Fatal(err)
		}
		if err := kS.UnmarshalBinary(suite, p.kS.Bytes()); err != nil {
			b.Fatal(err)
		}
		device := circl.NewPartialObliviousServer(suite, &kD)
		share := circl.NewServer(suite, &kS)
		kekInfo := string(info[len(LabelRecord):]) // lp(uid) || lp(rid)
		ad, _ := WrapAD(testUser, testRecord, digest[:], size)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			var pkD circl.PublicKey
			if err := pkD.UnmarshalBinary(suite, pkDBytes); err != nil {
				b.Fatal(err)
			}
			client := circl.NewPartialObliviousClient(suite, &pkD)
			fin, req, err := client.Blind([][]byte{p.x})
			if err != nil {
				b.Fatal(err)
			}
			blinded, _ := req.Elements[0].MarshalBinaryCompress()

			b.StopTimer()
			eval, err := device.Evaluate(req, info)
			if err != nil {
				b.Fatal(err)
			}
			evBytes, _ := eval.Elements[0].MarshalBinaryCompress()
			proofBytes, _ := eval.Proof.MarshalBinary()
			sig := deviceSigns(blinded)
			st := statement(blinded)
			msg, _ := st.Marshal()
			b.StartTimer()

			if !ed25519.Verify(signPub, msg, sig) {
				b.Fatal("signature")
			}
			yD, err := client.Finalize(fin, circlEvaluation(b, evBytes, proofBytes), info)
			if err != nil {
				b.Fatal(err)
			}
			yS, err := share.FullEvaluate(p.x)
			if err != nil {
				b.Fatal(err)
			}
			kek, err := hkdf.Key(sha256.New, append(yS, yD[0]...), []byte(LabelKEK), kekInfo, KeySize)
			if err != nil {
				b.Fatal(err)
			}
			block, _ := aes.NewCipher(kek)
			aead, _ := cipher.NewGCM(block)
			nonce := make([]byte, 12)
			if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
				b.Fatal(err)
			}
			aead.Seal(nonce, nonce, dek, ad)
		}
	})
}

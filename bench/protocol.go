package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/threshold"
)

// newFixture makes the keys and ids of one record.
func newFixture() (*fixture, error) {
	uid, err := ids.New(ids.User, rand.Reader)
	if err != nil {
		return nil, err
	}
	rid, err := ids.NewRecord(rand.Reader, time.Now())
	if err != nil {
		return nil, err
	}
	info, err := threshold.RecordInfo(uid, rid)
	if err != nil {
		return nil, err
	}
	pub, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	f := &fixture{userID: uid, recordID: rid, info: info, kekInfo: info[len(threshold.LabelRecord):],
		size: 1 << 20, signPub: pub, signKey: sk, x: make([]byte, 32)}
	sum := sha256.Sum256([]byte("record"))
	f.digest = sum[:]
	if _, err := rand.Read(f.x); err != nil {
		return nil, err
	}
	for _, k := range []*[]byte{&f.kD, &f.kS} {
		key, err := oprf.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		*k = key.Bytes()
		key.Destroy()
	}
	return f, nil
}

// runThresholdStep measures part 2 in this process: the cryptography of an
// approval as this project composes it (threshold and oprf packages), next
// to the sum of the primitives it is made of (part 1). The whole server and
// device, HTTP and store included, are measured end to end (runApprovals).
func (b *runner) runThresholdStep(ctx context.Context) error {
	f := b.fix
	kD, err := oprf.ParsePrivateKey(f.kD)
	if err != nil {
		return err
	}
	defer kD.Destroy()
	share, err := oprf.ParsePrivateKey(f.kS)
	if err != nil {
		return err
	}
	defer share.Destroy()
	pkD := kD.Public()
	bl, err := oprf.Blind(rand.Reader, [][]byte{f.x})
	if err != nil {
		return err
	}
	defer bl.Destroy()
	blinded := bl.Elements()
	evaluated, proof, err := kD.EvaluatePOPRF(rand.Reader, blinded, f.info)
	if err != nil {
		return err
	}
	st := func(kind string) threshold.Statement {
		s := threshold.Statement{
			RequestID: "req_bench", Kind: kind, UserID: f.userID, RecordID: f.recordID,
			Decision: threshold.DecisionApprove, RequesterID: "cli_bench", Purpose: "benchmark",
			BlindedElements: blinded, ExpiresAt: time.Unix(1_900_000_000, 0),
		}
		if kind == threshold.KindCreate {
			s.ContentSHA256 = f.digest
		}
		return s
	}
	createSt, accessSt := st(threshold.KindCreate), st(threshold.KindAccess)
	createMsg, err := createSt.Marshal()
	if err != nil {
		return err
	}
	accessMsg, err := accessSt.Marshal()
	if err != nil {
		return err
	}
	createSig, accessSig := threshold.Sign(f.signKey, createMsg), threshold.Sign(f.signKey, accessMsg)
	ad, err := threshold.WrapAD(f.userID, f.recordID, f.digest, f.size)
	if err != nil {
		return err
	}
	dek := make([]byte, threshold.KeySize)
	kek, err := threshold.RecordKEK(bl, pkD, share, f.x, f.userID, f.recordID, evaluated, proof)
	if err != nil {
		return err
	}
	wrapped, err := threshold.WrapDEK(rand.Reader, kek, dek, ad)
	secret.Clear(kek)
	if err != nil {
		return err
	}

	// The server's side of an approval: rebuild and check the signed
	// statement, verify and finalize the device's answer, evaluate its own
	// share, derive the KEK, then wrap (create) or unwrap (access) the DEK.
	serverStep := func(s *threshold.Statement, sig []byte, useKEK func(kek []byte) error) func(int) error {
		return func(int) error {
			msg, err := s.Marshal()
			if err != nil {
				return err
			}
			if err := threshold.Verify(f.signPub, msg, sig); err != nil {
				return err
			}
			kek, err := threshold.RecordKEK(bl, pkD, share, f.x, f.userID, f.recordID, evaluated, proof)
			if err != nil {
				return err
			}
			defer secret.Clear(kek)
			return useKEK(kek)
		}
	}
	wrap := func(kek []byte) error {
		_, err := threshold.WrapDEK(rand.Reader, kek, dek, ad)
		return err
	}
	unwrap := func(kek []byte) error {
		d, err := threshold.UnwrapDEK(kek, wrapped, ad)
		secret.Clear(d)
		return err
	}
	// The device's side: build info from the ids it shows, evaluate with
	// proof, sign the statement.
	deviceStep := func(int) error {
		info, err := threshold.RecordInfo(f.userID, f.recordID)
		if err != nil {
			return err
		}
		if _, _, err := kD.EvaluatePOPRF(rand.Reader, blinded, info); err != nil {
			return err
		}
		msg, err := createSt.Marshal()
		if err != nil {
			return err
		}
		threshold.Sign(f.signKey, msg)
		return nil
	}

	p := &b.prim
	createSum := p.edVerify.CPU + p.poprfFinalize.CPU + p.oprfEvaluate.CPU + p.kekWrap.CPU
	accessSum := p.edVerify.CPU + p.poprfFinalize.CPU + p.oprfEvaluate.CPU + p.kekUnwrap.CPU
	deviceSum := p.poprfEvaluate.CPU + p.edSign.CPU
	steps := []struct {
		id, name string
		op       func(int) error
		sum      time.Duration
		sumName  string
		into     *time.Duration
	}{
		{"threshold/server-create", "server threshold step per create approval (verify, RecordKEK, WrapDEK)",
			serverStep(&createSt, createSig, wrap), createSum, "verify + finalize + OPRF + KEK wrap", &b.sums.create},
		{"threshold/server-access", "server threshold step per access approval (verify, RecordKEK, UnwrapDEK)",
			serverStep(&accessSt, accessSig, unwrap), accessSum, "verify + finalize + OPRF + KEK unwrap", &b.sums.access},
		{"threshold/device", "device step per evaluation (info, POPRF evaluate, sign)",
			deviceStep, deviceSum, "POPRF evaluate + Ed25519 sign", &b.sums.device},
	}
	for i, s := range steps {
		b.prog.set("part 2/6 threshold step: %s (%d/%d)", s.id, i+1, len(steps))
		c, err := measure(ctx, b.timing, nil, s.op)
		if err != nil {
			return err
		}
		*s.into = s.sum
		b.res.add(Row{ID: s.id, Part: 2, Name: s.name, Value: micros(c.CPU), Unit: UnitMicros,
			Baseline: micros(s.sum), BaselineName: "sum of primitives: " + s.sumName})
	}
	return nil
}

// micros converts d to microseconds.
func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

package bench

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"os"

	circl "github.com/cloudflare/circl/oprf"

	"github.com/assent-dev/assent/threshold"
)

// chunkSize is the plaintext size of the envelope's chunks, and of the
// AES-256-GCM baseline.
const chunkSize = 64 << 10

// primitiveCosts are the part 1 figures that part 2 and 3 compare with.
type primitiveCosts struct {
	poprfBlind, poprfEvaluate, poprfFinalize, oprfEvaluate opCost
	edSign, edVerify                                       opCost
	kekWrap, kekUnwrap                                     opCost // HKDF-SHA256 to a KEK, then AES-256-GCM of a 32-byte key
	gcmSeal, gcmOpen, sha                                  opCost // one 64 KiB chunk
	fsync                                                  opCost // append 4 KiB and fsync, wall clock
}

// fixture is one record's worth of protocol inputs, made once per run with
// real ids and fresh keys.
type fixture struct {
	userID, recordID string
	x                []byte // the record's private input
	info             []byte // threshold.RecordInfo(userID, recordID)
	kekInfo          []byte // lp(userID) || lp(recordID), the KEK's HKDF info
	digest           []byte
	size             uint64
	signPub          ed25519.PublicKey
	signKey          ed25519.PrivateKey
	kD, kS           []byte // device share and server share, 32 bytes each
}

// runPrimitives measures part 1 straight on CIRCL and the standard
// library, without any of this project's code in the loop.
func (b *runner) runPrimitives(ctx context.Context) error {
	f := b.fix
	suite := circl.SuiteRistretto255
	var kD, kS circl.PrivateKey
	if err := kD.UnmarshalBinary(suite, f.kD); err != nil {
		return err
	}
	if err := kS.UnmarshalBinary(suite, f.kS); err != nil {
		return err
	}
	device := circl.NewPartialObliviousServer(suite, &kD)
	client := circl.NewPartialObliviousClient(suite, kD.Public())
	share := circl.NewServer(suite, &kS)
	fin, req, err := client.Blind([][]byte{f.x})
	if err != nil {
		return err
	}
	eval, err := device.Evaluate(req, f.info)
	if err != nil {
		return err
	}
	msg := make([]byte, 300) // about the size of an approval statement
	if _, err := io.ReadFull(rand.Reader, msg); err != nil {
		return err
	}
	sig := ed25519.Sign(f.signKey, msg)
	dek := make([]byte, threshold.KeySize)
	ad, err := threshold.WrapAD(f.userID, f.recordID, f.digest, f.size)
	if err != nil {
		return err
	}
	ikm := make([]byte, 2*64) // yS || yD
	wrapped, err := kekWrap(ikm, f.kekInfo, dek, ad)
	if err != nil {
		return err
	}
	chunk := make([]byte, chunkSize)
	gcm, err := newGCM(dek)
	if err != nil {
		return err
	}
	nonce := make([]byte, gcm.NonceSize())
	sealed := gcm.Seal(nil, nonce, chunk, nil)
	dst := make([]byte, 0, len(sealed))
	h := sha256.New()

	p := &b.prim
	steps := []struct {
		id, name string
		into     *opCost
		op       func(int) error
	}{
		{"poprf-blind", "CIRCL POPRF blind (server, per request)", &p.poprfBlind, func(int) error {
			_, _, err := client.Blind([][]byte{f.x})
			return err
		}},
		{"poprf-evaluate", "CIRCL POPRF evaluate with DLEQ proof (device)", &p.poprfEvaluate, func(int) error {
			_, err := device.Evaluate(req, f.info)
			return err
		}},
		{"poprf-finalize", "CIRCL POPRF finalize, proof verified (server)", &p.poprfFinalize, func(int) error {
			_, err := client.Finalize(fin, eval, f.info)
			return err
		}},
		{"oprf-evaluate", "CIRCL base OPRF full evaluate (server share)", &p.oprfEvaluate, func(int) error {
			_, err := share.FullEvaluate(f.x)
			return err
		}},
		{"ed25519-sign", "Ed25519 sign, 300-byte message (device)", &p.edSign, func(int) error {
			ed25519.Sign(f.signKey, msg)
			return nil
		}},
		{"ed25519-verify", "Ed25519 verify, 300-byte message", &p.edVerify, func(int) error {
			if !ed25519.Verify(f.signPub, msg, sig) {
				return errors.New("signature does not verify")
			}
			return nil
		}},
		{"kek-wrap", "HKDF-SHA256 KEK + AES-256-GCM wrap of a 32-byte key", &p.kekWrap, func(int) error {
			_, err := kekWrap(ikm, f.kekInfo, dek, ad)
			return err
		}},
		{"kek-unwrap", "HKDF-SHA256 KEK + AES-256-GCM unwrap of a 32-byte key", &p.kekUnwrap, func(int) error {
			return kekUnwrap(ikm, f.kekInfo, wrapped, ad)
		}},
		{"gcm-seal", "AES-256-GCM seal, 64 KiB chunks", &p.gcmSeal, func(int) error {
			gcm.Seal(dst[:0], nonce, chunk, nil)
			return nil
		}},
		{"gcm-open", "AES-256-GCM open, 64 KiB chunks", &p.gcmOpen, func(int) error {
			_, err := gcm.Open(dst[:0], nonce, sealed, nil)
			return err
		}},
		{"sha256", "SHA-256, 64 KiB chunks", &p.sha, func(int) error {
			h.Write(chunk)
			return nil
		}},
	}
	for i, s := range steps {
		b.prog.set("part 1/6 primitives: %s (%d/%d)", s.id, i+1, len(steps)+1)
		c, err := measure(ctx, b.timing, nil, s.op)
		if err != nil {
			return err
		}
		*s.into = c
		row := Row{ID: "primitive/" + s.id, Part: 1, Name: s.name, Value: micros(c.CPU), Unit: UnitMicros}
		if s.into == &p.gcmSeal || s.into == &p.gcmOpen || s.into == &p.sha {
			row.Value, row.Unit = c.mbPerSecond(chunkSize), UnitMBps
		}
		b.res.add(row)
	}
	return b.runFsync(ctx)
}

// runFsync measures what every durable store write waits for: appending
// 4 KiB to a file on the disk of the run's data directories and syncing it.
// It is wall-clock time, the time the writer waits, not CPU.
func (b *runner) runFsync(ctx context.Context) error {
	b.prog.set("part 1/6 primitives: fsync")
	f, err := os.CreateTemp(b.work, "fsync-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := make([]byte, 4096)
	c, err := measure(ctx, b.timing, nil, func(int) error {
		if _, err := f.Write(block); err != nil {
			return err
		}
		return f.Sync()
	})
	if err != nil {
		return err
	}
	b.prim.fsync = c
	b.res.add(Row{ID: "primitive/fsync", Part: PartPrimitives, Name: "append 4 KiB to a file and fsync it, on the data directories' disk",
		Value: millis(c.Wall), Unit: UnitMillis, Note: "wall clock: what each durable SQLite commit waits for"})
	return nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// kekWrap is DESIGN.md's KEK derivation and DEK wrap written with the
// standard library alone, the baseline of threshold.DeriveKEK + WrapDEK.
func kekWrap(ikm, info, dek, ad []byte) ([]byte, error) {
	kek, err := hkdf.Key(sha256.New, ikm, []byte(threshold.LabelKEK), string(info), threshold.KeySize)
	if err != nil {
		return nil, err
	}
	gcm, err := newGCM(kek)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(dek)+gcm.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, dek, ad), nil
}

// kekUnwrap is the baseline of threshold.DeriveKEK + UnwrapDEK.
func kekUnwrap(ikm, info, wrapped, ad []byte) error {
	kek, err := hkdf.Key(sha256.New, ikm, []byte(threshold.LabelKEK), string(info), threshold.KeySize)
	if err != nil {
		return err
	}
	gcm, err := newGCM(kek)
	if err != nil {
		return err
	}
	n := gcm.NonceSize()
	_, err = gcm.Open(nil, wrapped[:n], wrapped[n:], ad)
	return err
}

package threshold

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/cloudflare/circl/group"
	circl "github.com/cloudflare/circl/oprf"
	"github.com/cloudflare/circl/zk/dleq"
)

// TestGoldenIndependently checks testdata/golden.json the way another
// implementation would: with circl/oprf, the standard library and layouts
// built by hand from DESIGN.md, never through this package's functions.
func TestGoldenIndependently(t *testing.T) {
	g := readGolden(t)
	suite := circl.SuiteRistretto255
	lpHand := func(dst []byte, s []byte) []byte {
		return append(binary.BigEndian.AppendUint16(dst, uint16(len(s))), s...)
	}

	var kD, kS circl.PrivateKey
	if err := kD.UnmarshalBinary(suite, g.DeviceKey); err != nil {
		t.Fatal(err)
	}
	if err := kS.UnmarshalBinary(suite, g.ServerShare); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		k    *circl.PrivateKey
		want []byte
	}{"device": {&kD, g.DevicePublicKey}, "server share": {&kS, g.ServerSharePublicKey}} {
		if pub, _ := c.k.Public().MarshalBinary(); !bytes.Equal(pub, c.want) {
			t.Errorf("%s public key %x, want %x", name, pub, c.want)
		}
	}
	id := sha256.Sum256(g.DevicePublicKey)
	if g.DeviceKeyID != hex.EncodeToString(id[:16]) {
		t.Errorf("device_key_id %s", g.DeviceKeyID)
	}

	// popfinalize blinds input with the given scalar through circl's client,
	// checks the blinded element, and finalizes the stored evaluation, which
	// verifies the proof against the device key.
	popfinalize := func(name string, input, blind, blinded, evaluated, proof, info []byte) []byte {
		t.Helper()
		pk := kD.Public()
		client := circl.NewPartialObliviousClient(suite, pk)
		bs := group.Ristretto255.NewScalar()
		if err := bs.UnmarshalBinary(blind); err != nil {
			t.Fatal(err)
		}
		fin, req, err := client.DeterministicBlind([][]byte{input}, []circl.Blind{bs})
		if err != nil {
			t.Fatal(err)
		}
		if enc, _ := req.Elements[0].MarshalBinaryCompress(); !bytes.Equal(enc, blinded) {
			t.Errorf("%s: blinded element %x, want %x", name, enc, blinded)
		}
		out, err := client.Finalize(fin, circlEvaluation(t, evaluated, proof), info)
		if err != nil {
			t.Fatalf("%s: circl rejects the evaluation: %v", name, err)
		}
		return out[0]
	}

	info := lpHand(lpHand([]byte(LabelRecord), []byte(g.UserID)), []byte(g.RecordID))
	if !bytes.Equal(info, g.Info) {
		t.Errorf("info %x, want %x", g.Info, info)
	}
	yD := popfinalize("record", g.Input, g.Blind, g.BlindedElement, g.EvaluatedElement, g.Proof, info)
	if !bytes.Equal(yD, g.YD) {
		t.Errorf("y_d %x, circl gives %x", g.YD, yD)
	}
	if full, _ := circl.NewPartialObliviousServer(suite, &kD).FullEvaluate(g.Input, info); !bytes.Equal(full, g.YD) {
		t.Error("y_d differs from the unblinded POPRF")
	}
	if yS, _ := circl.NewServer(suite, &kS).FullEvaluate(g.Input); !bytes.Equal(yS, g.YS) {
		t.Errorf("y_s %x, circl gives %x", g.YS, yS)
	}
	ids := lpHand(lpHand(nil, []byte(g.UserID)), []byte(g.RecordID))
	if kek := hkdfByHand(append(bytes.Clone(g.YS), g.YD...), []byte(LabelKEK), ids); !bytes.Equal(kek, g.KEK) {
		t.Errorf("kek %x, HKDF gives %x", g.KEK, kek)
	}

	sum := sha256.Sum256([]byte("golden record content\n"))
	ad := append(append([]byte(LabelWrap), ids...), sum[:]...)
	ad = binary.BigEndian.AppendUint64(ad, g.Size)
	if !bytes.Equal(ad, g.WrapAD) || !bytes.Equal(sum[:], g.ContentSHA256) {
		t.Errorf("wrap_ad %x, want %x", g.WrapAD, ad)
	}
	if dek := gcmOpen(t, g.KEK, g.WrappedDEK, ad); !bytes.Equal(dek, g.DEK) || !bytes.Equal(g.WrappedDEK[:12], g.WrapNonce) {
		t.Errorf("wrapped_dek opens to %x, want %x", dek, g.DEK)
	}

	pub := ed25519.NewKeyFromSeed(g.SigningSeed).Public().(ed25519.PublicKey)
	if !bytes.Equal(pub, g.SigningPublicKey) {
		t.Errorf("signing_public_key %x, want %x", g.SigningPublicKey, pub)
	}
	s := g.Statement
	st := append([]byte(LabelApproval), 0)
	for _, f := range []string{s.RequestID, s.Kind, g.UserID, g.RecordID, s.Decision, string(g.ContentSHA256), s.RequesterID, s.Purpose, string(g.BlindedElement)} {
		st = lpHand(st, []byte(f))
	}
	st = binary.BigEndian.AppendUint64(st, uint64(s.ExpiresAt))
	if !bytes.Equal(st, s.Bytes) {
		t.Errorf("statement bytes %x, want %x", s.Bytes, st)
	}
	if !ed25519.Verify(pub, st, s.Signature) {
		t.Error("statement signature does not verify")
	}

	e := g.Enroll
	einfo := lpHand(lpHand(lpHand([]byte("assent/enroll-check/v2"), []byte(g.UserID)), []byte(g.DeviceID)), g.SigningPublicKey)
	if !bytes.Equal(einfo, e.Info) {
		t.Errorf("enroll info %x, want %x", e.Info, einfo)
	}
	popfinalize("enroll", e.Input, e.Blind, e.BlindedElement, e.EvaluatedElement, e.Proof, einfo)
	est := append([]byte(LabelEnroll), 0)
	for _, f := range [][]byte{[]byte(g.UserID), []byte(g.DeviceID), g.DevicePublicKey, g.SigningPublicKey, e.BlindedElement} {
		est = lpHand(est, f)
	}
	if !bytes.Equal(est, e.Statement) || !ed25519.Verify(pub, est, e.Signature) {
		t.Error("enroll statement or its signature is wrong")
	}

	a := g.DeviceAuth
	bodySum := sha256.Sum256(a.Body)
	msg := "assent/device-auth/v1\n" + a.Method + "\n" + a.Path + "\n" + a.Timestamp + "\n" + a.Nonce + "\n" + hex.EncodeToString(bodySum[:])
	if msg != a.Message || !ed25519.Verify(pub, []byte(msg), a.Signature) {
		t.Errorf("device auth message %q or its signature is wrong", a.Message)
	}

	w := g.ShareWrap
	wad := binary.BigEndian.AppendUint32(lpHand([]byte(LabelShareWrap), []byte(g.UserID)), w.Version)
	if !bytes.Equal(wad, w.AD) || !bytes.Equal(w.Wrapped[:12], w.Nonce) {
		t.Errorf("share wrap ad %x, want %x", w.AD, wad)
	}
	if share := gcmOpen(t, w.MasterKey, w.Wrapped, wad); !bytes.Equal(share, g.ServerShare) {
		t.Errorf("share wrap opens to %x, want the server share", share)
	}

	d := g.DeviceSet
	rv := lpHand(lpHand(append([]byte("assent/revoke-device/v1"), 0), []byte(g.UserID)), []byte(d.RevokeDeviceID))
	rv = binary.BigEndian.AppendUint64(rv, uint64(d.RevokeAt))
	if !bytes.Equal(rv, d.Revoke) || !ed25519.Verify(pub, rv, d.RevokeSignature) {
		t.Errorf("revoke statement %x or its signature is wrong, want %x", d.Revoke, rv)
	}
	th := sha256.Sum256(d.TransferPublicKey)
	addSt := append([]byte("assent/add-device/v1"), 0)
	for _, f := range [][]byte{[]byte(d.AddRequestID), []byte(g.UserID), []byte(d.NewDeviceID), d.NewSigningKey, th[:],
		[]byte(g.DeviceID), []byte(g.DeviceKeyID), []byte(d.AddDecision)} {
		addSt = lpHand(addSt, f)
	}
	addSt = binary.BigEndian.AppendUint64(addSt, uint64(d.AddExpiresAt))
	if !bytes.Equal(addSt, d.AddDevice) || !bytes.Equal(addSt, d.HPKEInfo) || !ed25519.Verify(pub, addSt, d.AddSignature) {
		t.Errorf("add_device statement %x, HPKE info or signature is wrong, want %x", d.AddDevice, addSt)
	}
	re := lpHand(lpHand(append([]byte("assent/reactivate-device/v1"), 0), []byte(g.UserID)), []byte(d.RevokeDeviceID))
	re = binary.BigEndian.AppendUint64(re, uint64(d.ReactivateAt))
	if !bytes.Equal(re, d.Reactivate) || !ed25519.Verify(pub, re, d.ReactivateSignature) {
		t.Errorf("reactivate statement %x or its signature is wrong, want %x", d.Reactivate, re)
	}
	pairing := "assent-pair:v1:" + d.NewDeviceID + ":" + strings.TrimRight(base32.StdEncoding.EncodeToString(d.TransferPublicKey), "=")
	if pairing != d.PairingString {
		t.Errorf("pairing string %q, want %q", d.PairingString, pairing)
	}
}

// circlEvaluation decodes one evaluated element and its proof from the wire
// for circl/oprf.
func circlEvaluation(tb testing.TB, evaluated, proof []byte) *circl.Evaluation {
	z := group.Ristretto255.NewElement()
	if err := z.UnmarshalBinary(evaluated); err != nil {
		tb.Fatal(err)
	}
	p := new(dleq.Proof)
	if err := p.UnmarshalBinary(group.Ristretto255, proof); err != nil {
		tb.Fatal(err)
	}
	return &circl.Evaluation{Elements: []circl.Evaluated{z}, Proof: p}
}

func gcmOpen(t *testing.T, key, wrapped, ad []byte) []byte {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := aead.Open(nil, wrapped[:12], wrapped[12:], ad)
	if err != nil {
		t.Fatalf("AES-GCM open: %v", err)
	}
	return plain
}

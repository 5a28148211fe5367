package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"

	"github.com/assent-dev/assent/internal/verify"
	"github.com/assent-dev/assent/threshold"
)

// evidence fetches a sealed record and its user's device list as a
// verifier does.
func (e *env) evidence(rid string) (*Record, *verify.DeviceList) {
	e.t.Helper()
	rec, err := e.clinic.Record(e.ctx, rid, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	raw, err := e.clinic.Devices(e.ctx, rec.UserID)
	if err != nil {
		e.t.Fatal(err)
	}
	l, err := verify.ParseDeviceList(raw)
	if err != nil {
		e.t.Fatal(err)
	}
	return rec, l
}

// assent verify's checks against a real server's evidence, and against a
// server that lies in each of the ways it could.
func TestVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	sealed := e.seal("Blood test", content(3, 2000))
	rec, list := e.evidence(sealed.RecordID)
	key := threshold.FormatKeyID(e.dev.Identity.DeviceKeyID)

	r, err := verify.Check(rec, list, key)
	if err != nil || !r.UserKeyChecked || r.Device.DeviceID != e.dev.Identity.DeviceID {
		t.Fatalf("Check of a genuine record: %+v, %v", r, err)
	}
	if r, err := verify.Check(rec, list, ""); err != nil || r.UserKeyChecked || r.UserKeyID != e.dev.Identity.DeviceKeyID {
		t.Fatalf("Check without a user key: %+v, %v", r, err)
	}

	// Another user of the same server, with a device and a sealed record.
	other, err := e.clinic.CreateUser(e.ctx, "patient-2", "Sam")
	if err != nil {
		t.Fatal(err)
	}
	otherDev, err := EnrollDevice(e.ctx, e.node.URL, other.EnrollmentCode, "Sam's phone", filepath.Join(t.TempDir(), "o.ledger"), nil, agentOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { otherDev.Close() })
	rawOther, err := e.clinic.Devices(e.ctx, other.UserID)
	if err != nil {
		t.Fatal(err)
	}
	otherList, err := verify.ParseDeviceList(rawOther)
	if err != nil {
		t.Fatal(err)
	}

	serverKey := func() ed25519.PrivateKey {
		_, sk, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return sk
	}
	cloneList := func() *verify.DeviceList {
		c := *list
		c.Devices = append([]verify.Device(nil), list.Devices...)
		return &c
	}
	cloneRec := func() *Record {
		c := *rec
		a := *rec.Approval
		c.Approval = &a
		return &c
	}
	for _, tc := range []struct {
		name string
		edit func() (*Record, *verify.DeviceList, string)
		want error
	}{
		{"edited statement", func() (*Record, *verify.DeviceList, string) {
			st, _ := threshold.ParseStatement(rec.Approval.Statement)
			st.RecordID = "018bcfe5-6800-7000-8000-00000000c0de"
			b, _ := st.Marshal()
			c := cloneRec()
			c.Approval.Statement = b
			return c, list, key
		}, verify.ErrStatement},
		{"edited content digest", func() (*Record, *verify.DeviceList, string) {
			c := cloneRec()
			c.ContentSHA256 = bytes.Repeat([]byte{7}, 32)
			return c, list, key
		}, verify.ErrStatement},
		{"edited purpose", func() (*Record, *verify.DeviceList, string) {
			st, _ := threshold.ParseStatement(rec.Approval.Statement)
			st.Purpose = "anything"
			b, _ := st.Marshal()
			c := cloneRec()
			c.Approval.Statement = b
			return c, list, key
		}, verify.ErrSignature},
		{"signature by a key outside the list", func() (*Record, *verify.DeviceList, string) {
			c := cloneRec()
			c.Approval.Signature = threshold.Sign(serverKey(), c.Approval.Statement)
			return c, list, key
		}, verify.ErrSignature},
		{"the device list of another user", func() (*Record, *verify.DeviceList, string) {
			return rec, otherList, key
		}, verify.ErrSignature},
		{"evidence from another user", func() (*Record, *verify.DeviceList, string) {
			l := cloneList()
			d := otherList.Devices[0]
			d.DeviceID, d.SigningPublicKey = list.Devices[0].DeviceID, list.Devices[0].SigningPublicKey
			l.Devices[0] = d
			return rec, l, ""
		}, verify.ErrEnrollment},
		{"wrong user key", func() (*Record, *verify.DeviceList, string) {
			return rec, list, otherDev.Identity.DeviceKeyID
		}, verify.ErrUserKey},
		{"no approval proof kept", func() (*Record, *verify.DeviceList, string) {
			c := cloneRec()
			c.Approval.Proof = nil
			return c, list, key
		}, verify.ErrApprovalProof},
		{"proof harvest", func() (*Record, *verify.DeviceList, string) {
			// The server keeps the device's genuine enrollment check and
			// attaches it to a signing key of its own, which signs the
			// approval and a matching enrollment statement.
			sk := serverKey()
			pub := sk.Public().(ed25519.PublicKey)
			l := cloneList()
			d := l.Devices[0]
			ev := *d.Evidence
			stmt, err := threshold.EnrollStatement(rec.UserID, d.DeviceID, d.OPRFPublicKey, pub, ev.BlindedElements)
			if err != nil {
				t.Fatal(err)
			}
			ev.EnrollStatement, ev.EnrollSignature = stmt, threshold.Sign(sk, stmt)
			d.SigningPublicKey, d.Evidence = pub, &ev
			l.Devices[0] = d
			c := cloneRec()
			c.Approval.Signature = threshold.Sign(sk, c.Approval.Statement)
			return c, l, key
		}, verify.ErrEnrollment},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, l, k := tc.edit()
			if _, err := verify.Check(r, l, k); !errors.Is(err, tc.want) {
				t.Fatalf("Check = %v, want %v", err, tc.want)
			}
		})
	}
}

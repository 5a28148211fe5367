// Package verify checks offline that a holder of the user's device share kD
// approved exactly a sealed record (DESIGN.md, "Verifiable by anyone, and
// what it proves"). It has its own code path: it trusts none of the
// server's conclusions, only bytes it can check, and shares no code with the
// server's own verification beyond the byte layouts of package threshold
// and the proof check of package oprf.
//
// What a pass proves: the record's approval statement is the one rebuilt
// byte for byte from the record; it is signed by a signing key of the
// listed device set; the listed device's enrollment proof (v2, bound to
// that signing key) verifies against the key pkD; the approval's own
// evaluation proof verifies against pkD for this record; and pkD's
// fingerprint equals the one the person gave. What it does not prove: when
// the statement was signed, that the device was not revoked then, or that
// the server shows every viewer the same device list.
package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/threshold"
)

// The failures of Check, one per thing checked; the wrapping error says
// more. Test them with errors.Is.
var (
	// ErrMalformed: the record or the device list is not what the API
	// returns (not sealed, no approval, undecodable list).
	ErrMalformed = errors.New("verify: malformed record or device list")
	// ErrStatement: the signed statement is not the one rebuilt from the
	// record's fields.
	ErrStatement = errors.New("verify: the approval statement does not match the record")
	// ErrSignature: the statement is not signed by a device of the list.
	ErrSignature = errors.New("verify: the approval is not signed by a listed device")
	// ErrEnrollment: the signing device's enrollment evidence does not bind
	// its signing key to the user's key.
	ErrEnrollment = errors.New("verify: the signing device's enrollment proof does not verify against the user's key")
	// ErrApprovalProof: the approval's evaluation proof does not verify
	// against the user's key for this record.
	ErrApprovalProof = errors.New("verify: the approval's evaluation proof does not verify against the user's key")
	// ErrUserKey: the user's key is not the one the person gave.
	ErrUserKey = errors.New("verify: the user's key is not the one given")
)

// The device list of GET /v1/users/{uid}/devices, as package api defines
// it: the list, one device, and the evidence that binds a device's signing
// key to pkD.
type (
	DeviceList = api.DeviceList
	Device     = api.Device
	Evidence   = api.DeviceEvidence
)

// ParseDeviceList decodes a device list strictly (no unknown fields).
func ParseDeviceList(b []byte) (*DeviceList, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var l DeviceList
	if err := dec.Decode(&l); err != nil {
		return nil, fmt.Errorf("%w: device list: %v", ErrMalformed, err)
	}
	return &l, nil
}

// Report is what Check found.
type Report struct {
	Statement *threshold.Statement
	Device    *Device // the listed device that signed
	// UserKeyID is the fingerprint (device_key_id) of the pkD the evidence
	// verifies against; UserKeyChecked says whether it was compared with
	// the key the person gave.
	UserKeyID      string
	UserKeyChecked bool
}

// Check verifies a sealed record's approval against the device list, and
// pkD's fingerprint against userKey (a device_key_id as `assent device
// status` prints it, spaces allowed; empty: not compared, and the report
// says so). It returns the first failure, wrapping one of this package's
// errors.
func Check(rec *api.Record, devices *DeviceList, userKey string) (*Report, error) {
	if rec == nil || rec.State != api.RecordSealed || rec.Approval == nil {
		return nil, fmt.Errorf("%w: the record is not sealed with an approval", ErrMalformed)
	}
	a := rec.Approval
	st, err := threshold.ParseStatement(a.Statement)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStatement, err)
	}
	// Rebuilt from the record: what the user approved must be this record
	// of this user, with this content, sealed.
	want := *st
	want.Kind, want.Decision = threshold.KindCreate, threshold.DecisionApprove
	want.UserID, want.RecordID, want.ContentSHA256 = rec.UserID, rec.RecordID, rec.ContentSHA256
	rebuilt, err := want.Marshal()
	if err != nil || !bytes.Equal(rebuilt, a.Statement) {
		return nil, fmt.Errorf("%w: it names kind %q, decision %q, user %q, record %q or another content digest",
			ErrStatement, st.Kind, st.Decision, st.UserID, st.RecordID)
	}

	var dev *Device
	for i := range devices.Devices {
		if devices.Devices[i].DeviceID == a.DeviceID {
			dev = &devices.Devices[i]
			break
		}
	}
	if dev == nil {
		return nil, fmt.Errorf("%w: device %q is not in the list", ErrSignature, a.DeviceID)
	}
	if threshold.Verify(dev.SigningPublicKey, a.Statement, a.Signature) != nil {
		return nil, fmt.Errorf("%w: the signature does not verify under device %s's signing key", ErrSignature, dev.DeviceID)
	}

	pkD, err := oprf.ParsePublicKey(dev.OPRFPublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: device %s has no valid oprf_public_key", ErrEnrollment, dev.DeviceID)
	}
	if err := checkEnrollment(rec.UserID, dev, pkD); err != nil {
		return nil, err
	}
	info, err := threshold.RecordInfo(rec.UserID, rec.RecordID)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrApprovalProof, err)
	}
	if len(a.EvaluatedElements) == 0 || len(a.Proof) == 0 {
		return nil, fmt.Errorf("%w: the record keeps no evaluation and proof", ErrApprovalProof)
	}
	if err := oprf.VerifyPOPRF(pkD, info, st.BlindedElements, a.EvaluatedElements, a.Proof); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrApprovalProof, err)
	}

	r := &Report{Statement: st, Device: dev, UserKeyID: threshold.DeviceKeyID(dev.OPRFPublicKey)}
	if userKey != "" {
		if threshold.NormalizeKeyID(userKey) != r.UserKeyID {
			return nil, fmt.Errorf("%w: the evidence verifies against key %s, not %s",
				ErrUserKey, threshold.FormatKeyID(r.UserKeyID), threshold.FormatKeyID(threshold.NormalizeKeyID(userKey)))
		}
		r.UserKeyChecked = true
	}
	return r, nil
}

// checkEnrollment checks that dev's own enrollment endorses its signing
// key under pkD: the enrollment statement rebuilt from the device's keys is
// signed by that key, and the enrollment check's proof verifies with the
// v2 info, which names the signing key (so a proof attached to another
// signing key fails).
func checkEnrollment(userID string, dev *Device, pkD *oprf.PublicKey) error {
	ev := dev.Evidence
	if ev == nil {
		return fmt.Errorf("%w: device %s has no enrollment evidence", ErrEnrollment, dev.DeviceID)
	}
	stmt, err := threshold.EnrollStatement(userID, dev.DeviceID, dev.OPRFPublicKey, dev.SigningPublicKey, ev.BlindedElements)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrEnrollment, err)
	}
	if threshold.Verify(dev.SigningPublicKey, stmt, ev.EnrollSignature) != nil {
		return fmt.Errorf("%w: device %s's enrollment statement is not signed by its signing key", ErrEnrollment, dev.DeviceID)
	}
	info, err := threshold.EnrollCheckInfo(userID, dev.DeviceID, dev.SigningPublicKey)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrEnrollment, err)
	}
	if err := oprf.VerifyPOPRF(pkD, info, ev.BlindedElements, ev.EvaluatedElements, ev.Proof); err != nil {
		return fmt.Errorf("%w: device %s: %v", ErrEnrollment, dev.DeviceID, err)
	}
	return nil
}

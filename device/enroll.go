package device

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/threshold"
)

// MaxDeviceNameLen caps a device name (the server's cap on names).
const MaxDeviceNameLen = 1024

// EnrollOptions are the optional inputs of Enroll.
type EnrollOptions struct {
	// Name is the device name shown to the user's third parties.
	Name string
	// OPRFKey is the device share to enroll; nil makes a new one. A share
	// rebuilt from a recovery kit is enrolled this way, so that records
	// sealed under it open again. Enroll does not take ownership: the
	// identity it returns holds a copy.
	OPRFKey *oprf.PrivateKey
	// Save, when set, is called with the new identity after the server has
	// registered the device and before the device confirms, so that the keys
	// are stored before the server can activate them. An error from Save
	// stops the enrollment before the confirmation.
	Save func(*Identity) error
}

// Enroll enrolls this device with an enrollment code, in DESIGN.md's two
// steps: it makes a signing key (and a device share unless o.OPRFKey is
// set), registers their public halves (POST /v1/device/enroll), evaluates
// the server's check element with info threshold.EnrollCheckInfo(user,
// device, signing key) and signs threshold.EnrollStatement, and confirms
// (POST /v1/device/enroll/confirm). The device enrolls as the client's
// platform (ClientOptions.Platform). It returns the active identity, which
// the caller owns (Destroy when done).
//
// The code is a credential: it is sent only in the enrollment body, never in
// a URL or an error. A server refusal is an *APIError (401 unknown code, 410
// used or expired code, 400 bad proof); a malformed answer is ErrProtocol.
func (c *Client) Enroll(ctx context.Context, code string, o EnrollOptions) (*Identity, error) {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 64 {
		return nil, errors.New("device: enrollment code must be 1 to 64 characters")
	}
	if len(o.Name) > MaxDeviceNameLen {
		return nil, fmt.Errorf("device: device name over %d bytes", MaxDeviceNameLen)
	}
	id, err := c.newIdentity(o.OPRFKey)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			id.Destroy()
		}
	}()
	oprfPub := id.OPRFKey.Public().Bytes()
	signPub := id.SigningPublicKey()

	var reg api.EnrollAnswer
	err = c.do(ctx, call{method: methodPost, target: "/v1/device/enroll", want: statusCreated, out: &reg,
		body: &api.EnrollRequest{EnrollmentCode: code, DeviceName: o.Name, OPRFPublicKey: oprfPub, SigningPublicKey: signPub,
			Platform: c.platform}})
	if err != nil {
		return nil, fmt.Errorf("device: enrolling: %w", err)
	}
	if ids.Check(ids.Device, reg.DeviceID) != nil || ids.Check(ids.User, reg.UserID) != nil {
		return nil, fmt.Errorf("%w: enrollment answer has malformed ids", ErrProtocol)
	}
	if err := checkBlinded(reg.BlindedElements); err != nil {
		return nil, fmt.Errorf("%w: enrollment check: %v", ErrProtocol, err)
	}
	id.DeviceID, id.UserID = reg.DeviceID, reg.UserID

	// The info names this device's own signing key, so that the proof
	// endorses it and no key the server might pair it with.
	info, err := threshold.EnrollCheckInfo(id.UserID, id.DeviceID, signPub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	evaluated, proof, err := id.OPRFKey.EvaluatePOPRF(c.rand, reg.BlindedElements, info)
	if err != nil {
		return nil, fmt.Errorf("%w: evaluating the enrollment check: %v", ErrProtocol, err)
	}
	stmt, err := threshold.EnrollStatement(id.UserID, id.DeviceID, oprfPub, signPub, reg.BlindedElements)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	if o.Save != nil {
		if err := o.Save(id); err != nil {
			return nil, err
		}
	}

	var conf api.ConfirmAnswer
	err = c.do(ctx, call{method: methodPost, target: "/v1/device/enroll/confirm", want: statusOK, out: &conf,
		body: &api.ConfirmRequest{DeviceID: id.DeviceID, EvaluatedElements: evaluated, Proof: proof, Signature: threshold.Sign(id.SigningKey, stmt)}})
	if err != nil {
		return nil, fmt.Errorf("device: confirming enrollment: %w", err)
	}
	if conf.DeviceID != id.DeviceID || conf.UserID != id.UserID || (conf.State != StateActive && conf.State != StateRecoveryPending) {
		return nil, fmt.Errorf("%w: confirmation names another device or state", ErrProtocol)
	}
	id.State = conf.State
	ok = true
	return id, nil
}

// Device states an enrollment ends in: active, or, for a recovery while
// another device of the user is active, pending for 24 hours during which
// any active device may cancel it (DESIGN.md, "Recovery").
const (
	StateActive          = "active"
	StateRecoveryPending = "recovery_pending"
)

// newIdentity makes the keys of a device about to enroll; the ids are filled
// in by the server's answer.
func (c *Client) newIdentity(share *oprf.PrivateKey) (*Identity, error) {
	var k *oprf.PrivateKey
	var err error
	if share != nil {
		b := share.Bytes()
		k, err = oprf.ParsePrivateKey(b)
		secret.Clear(b)
	} else {
		k, err = oprf.GenerateKey(c.rand)
	}
	if err != nil {
		return nil, fmt.Errorf("device: device share: %w", err)
	}
	_, sk, err := ed25519.GenerateKey(c.rand)
	if err != nil {
		k.Destroy()
		return nil, fmt.Errorf("device: signing key: %w", err)
	}
	return &Identity{
		ServerURL:   c.ServerURL(),
		DeviceKeyID: threshold.DeviceKeyID(k.Public().Bytes()),
		OPRFKey:     k,
		SigningKey:  sk,
	}, nil
}

// checkBlinded accepts exactly one blinded element that is a canonical,
// non-identity ristretto255 element.
func checkBlinded(elems [][]byte) error {
	if len(elems) != 1 {
		return fmt.Errorf("%d blinded elements, want 1", len(elems))
	}
	if _, err := oprf.ParsePublicKey(elems[0]); err != nil {
		return errors.New("blinded element is not a valid group element")
	}
	return nil
}

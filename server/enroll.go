package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// enroll: POST /v1/device/enroll. The code is the credential: it is spent
// only after everything else in the body has been checked and everything
// but storing the device has been made, so a malformed call or a local
// failure does not waste it. The device starts pending, with one blinded
// element of a random input for it to evaluate.
//
// The code is spent before the device is stored, since the code names the
// user and the store has no way to read an unused code without spending
// it. Storing the device is therefore retried through a brief outage; past
// that the answer is 503 saying a new code is needed.
func (s *Server) enroll(c *echo.Context) error {
	if err := s.enrollAllowed(c); err != nil {
		return err
	}
	var in api.EnrollRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := checkText("device_name", in.DeviceName, true); err != nil {
		return err
	}
	if !api.ValidPlatform(in.Platform) {
		return fail(errBadRequest, `platform must be "agent" or "web" (or absent)`)
	}
	if in.Transfer {
		// The device holds no kD until the transfer: it enrolls with the
		// user's pinned pkD, and its transfer key never comes here.
		if in.OPRFPublicKey != nil {
			return fail(errBadRequest, "a transfer enrollment carries no oprf_public_key: the device receives the user's device key from an existing device")
		}
	} else if _, err := oprf.ParsePublicKey(in.OPRFPublicKey); err != nil {
		return fail(errBadRequest, "oprf_public_key is not a valid ristretto255 public key")
	}
	if len(in.SigningPublicKey) != ed25519.PublicKeySize {
		return fail(errBadRequest, "signing_public_key must be 32 bytes")
	}
	code, ok := normalizeCode(in.EnrollmentCode)
	if !ok {
		return errAuth
	}
	sum := sha256Sum([]byte(code))
	// A read first (on a read connection): an unknown, used or expired
	// code costs neither a blinding nor the store's writer.
	codeUser, err := s.checkCode(c.Request().Context(), sum)
	if err != nil {
		return err
	}
	var pkD []byte
	if in.Transfer {
		if pkD, err = s.transferSource(c.Request().Context(), codeUser); err != nil {
			return err
		}
	}
	deviceID, err := ids.New(ids.Device, s.rand)
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	blinded, err := s.checkElements()
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	// From the spending of the code on, a client gone away must not leave
	// the code spent and the device unstored.
	ctx := context.WithoutCancel(c.Request().Context())
	enr, err := s.store.UseEnrollment(ctx, sum, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errAuth
	case errors.Is(err, store.ErrConflict):
		return fail(errGone, "enrollment code already used")
	case errors.Is(err, store.ErrExpired):
		return fail(errExpired, "enrollment code expired")
	case err != nil:
		return storeFail(err, "enrollment")
	}
	d := &store.Device{
		ID:               deviceID,
		UserID:           enr.UserID,
		Name:             in.DeviceName,
		OPRFPublicKey:    in.OPRFPublicKey,
		SigningPublicKey: in.SigningPublicKey,
		State:            store.DevicePending,
		Platform:         in.Platform,
		CheckBlinded:     blinded,
		CreatedAt:        s.now(),
	}
	if in.Transfer {
		d.OPRFPublicKey, d.State = pkD, store.DeviceAwaitingTransfer
	}
	d.KeyID = threshold.DeviceKeyID(d.OPRFPublicKey)
	if err := s.createDevice(ctx, d); err != nil {
		requestLogger(c, s.log).Error("enrollment code spent but the device could not be stored", "user_id", d.UserID, "error", err)
		return failCause(errUnavailable, "the device could not be registered and the enrollment code is spent; ask for a new enrollment code", err)
	}
	if in.Transfer {
		return s.askAddDevice(c, d)
	}
	return c.JSON(http.StatusCreated, api.EnrollAnswer{DeviceID: deviceID, UserID: enr.UserID, BlindedElements: blinded})
}

// enrollAllowed applies the per-address rate of the enrollment calls,
// which carry no credential but what their body holds: it runs before the
// body is read and before any store call.
func (s *Server) enrollAllowed(c *echo.Context) error {
	if ok, wait := s.enrolls.allow(clientAddr(c.Request()), s.clock()); !ok {
		return &apiError{kind: errRateLimited, msg: "too many enrollment calls from this address; slow down: past enroll-rate, enroll-burst", retryAfter: wait}
	}
	return nil
}

// checkCode reads the enrollment code of hash sum without spending it and
// returns its user: 401 if unknown, 410 if used or expired. UseEnrollment
// stays the arbiter.
func (s *Server) checkCode(ctx context.Context, sum []byte) (string, error) {
	enr, err := s.store.GetEnrollment(ctx, sum)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", errAuth
	case err != nil:
		return "", storeFail(err, "enrollment")
	case !enr.UsedAt.IsZero():
		return "", fail(errGone, "enrollment code already used")
	case !s.now().Before(enr.ExpiresAt):
		return "", fail(errExpired, "enrollment code expired")
	}
	return enr.UserID, nil
}

// createDeviceBackoff are the waits before each retry of storing an
// enrolling device while the store is unavailable.
var createDeviceBackoff = []time.Duration{100 * time.Millisecond, 300 * time.Millisecond, 600 * time.Millisecond}

// createDevice stores d, retrying while the store is unavailable. A retry
// that finds d's id taken finds the insert of a try whose answer was lost.
func (s *Server) createDevice(ctx context.Context, d *store.Device) error {
	err := s.store.CreateDevice(ctx, d)
	for _, wait := range createDeviceBackoff {
		if !errors.Is(err, store.ErrUnavailable) {
			break
		}
		time.Sleep(wait)
		err = s.store.CreateDevice(ctx, d)
		if errors.Is(err, store.ErrConflict) {
			if got, gerr := s.store.GetDevice(ctx, d.ID); gerr == nil && bytes.Equal(got.SigningPublicKey, d.SigningPublicKey) {
				return nil
			}
		}
	}
	return err
}

// checkElements blinds a fresh random input for the enrollment check. Only
// the blinded element is kept (on the device record, so that any node can
// verify the confirmation); the input and blind are dropped at once, since
// the check needs the proof, not the output.
func (s *Server) checkElements() ([][]byte, error) {
	input := make([]byte, 32)
	defer secret.Clear(input)
	if _, err := io.ReadFull(s.rand, input); err != nil {
		return nil, err
	}
	b, err := oprf.Blind(s.rand, [][]byte{input})
	if err != nil {
		return nil, err
	}
	defer b.Destroy()
	return b.Elements(), nil
}

// confirmEnrollment: POST /v1/device/enroll/confirm. The signature over the
// enrollment statement authenticates the call (401 if it fails); the proof
// shows the device holds the private key of its pkD (400 bad_proof). Only
// then is the device active. A pending device must be confirmed within
// EnrollmentTTL.
func (s *Server) confirmEnrollment(c *echo.Context) error {
	if err := s.enrollAllowed(c); err != nil {
		return err
	}
	var in api.ConfirmRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if ids.Check(ids.Device, in.DeviceID) != nil {
		return fail(errInvalidID, "malformed device_id")
	}
	ctx := c.Request().Context()
	d, err := s.store.GetDevice(ctx, in.DeviceID)
	if errors.Is(err, store.ErrNotFound) {
		return errAuth
	}
	if err != nil {
		return storeFail(err, "device")
	}
	stmt, err := threshold.EnrollStatement(d.UserID, d.ID, d.OPRFPublicKey, d.SigningPublicKey, d.CheckBlinded)
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	if threshold.Verify(d.SigningPublicKey, stmt, in.Signature) != nil {
		return errAuth
	}
	switch d.State {
	case store.DevicePending:
	case store.DeviceAwaitingTransfer:
		return fail(errTransferPending, "no existing device has approved the transfer yet")
	case store.DeviceCancelled:
		return fail(errTransferDenied, "the transfer was denied or expired; this device can never become active")
	default:
		return fail(errConflict, "device is already active")
	}
	if !s.now().Before(d.CreatedAt.Add(EnrollmentTTL)) {
		return fail(errExpired, "enrollment not confirmed in time; enroll again with a new code")
	}
	u, err := s.store.GetUser(ctx, d.UserID)
	if err != nil {
		return storeFail(err, "user")
	}
	pinned, err := s.pinnedKey(ctx, u)
	if err != nil {
		return err
	}
	if pinned != nil && !bytes.Equal(pinned, d.OPRFPublicKey) {
		return errKeyRefused
	}
	info, err := threshold.EnrollCheckInfo(d.UserID, d.ID, d.SigningPublicKey)
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	if err := verifyProof(d.OPRFPublicKey, info, d.CheckBlinded, in.EvaluatedElements, in.Proof); err != nil {
		return err
	}
	if pinned == nil {
		// The first device to be confirmed pins the user's key (trust on
		// first use); a racer that pinned first with another key wins.
		err := s.store.PinUserKey(ctx, u.ID, d.OPRFPublicKey, d.KeyID)
		if errors.Is(err, store.ErrConflict) {
			if u, err = s.store.GetUser(ctx, u.ID); err != nil {
				return storeFail(err, "user")
			}
			if !bytes.Equal(u.DevicePublicKey, d.OPRFPublicKey) {
				return errKeyRefused
			}
			pinned = u.DevicePublicKey
		} else if err != nil {
			return storeFail(err, "user")
		}
	}
	// A device that enrolls with the key already pinned holds kD from a
	// recovery kit (an added device goes through the transfer instead):
	// while another device is active it waits RecoveryDelay, for those
	// devices to see it and cancel it.
	details := deviceDetails{DeviceKeyID: d.KeyID, State: store.DeviceActive, Platform: d.Platform}
	added := d.Evidence.AddStatement != nil
	if added {
		// Added by transfer: an active device of the user approved it,
		// and it is active as soon as its own proof verifies.
		details.Via = viaTransfer
	} else if pinned != nil {
		details.Via = viaRecovery
		active, err := s.store.ActiveDevices(ctx, d.UserID)
		if err != nil {
			return storeFail(err, "device")
		}
		if len(active) > 0 {
			details.State = store.DeviceRecoveryPending
		}
	}
	ev := store.DeviceEvidence{EnrollSignature: in.Signature, EvaluatedElements: in.EvaluatedElements, Proof: in.Proof,
		AddStatement: d.Evidence.AddStatement, AddSignature: d.Evidence.AddSignature}
	if err := s.store.ConfirmDevice(ctx, d.ID, details.State, ev, s.now()); err != nil {
		return storeFail(err, "device")
	}
	s.audit(ctx, d.UserID, store.EventDeviceEnrolled, d.ID, d.ID, details)
	return c.JSON(http.StatusOK, api.DeviceState{DeviceID: d.ID, UserID: d.UserID, State: details.State})
}

// The "via" of a device_enrolled event: a recovery, or a device added by
// transfer.
const (
	viaRecovery = "recovery"
	viaTransfer = "transfer"
)

// RecoveryDelay is how long a recovery enrollment stays recovery_pending
// while another device of the user is active (DESIGN.md, "Recovery").
const RecoveryDelay = 24 * time.Hour

// errKeyRefused: a device whose key is not the user's pinned key. The code
// it enrolled with is spent and nothing else changes.
var errKeyRefused = fail(errKeyMismatch, "the device's key is not the user's device key; add a device by transfer from an existing device, or recover with the user's recovery kit")

// pinnedKey returns the user's pinned pkD, or nil if none is pinned. A user
// stored before keys were pinned gets the key of its oldest device that was
// ever confirmed pinned now, whatever that device's state: were only active
// devices counted, the creating client could suspend them all and then
// enroll a key of its own.
func (s *Server) pinnedKey(ctx context.Context, u *store.User) ([]byte, error) {
	if u.DeviceKeyID != "" {
		return u.DevicePublicKey, nil
	}
	devs, err := s.store.UserDevices(ctx, u.ID)
	if err != nil {
		return nil, storeFail(err, "device")
	}
	var first *store.Device
	for _, d := range devs {
		if !d.ActivatedAt.IsZero() {
			first = d
			break
		}
	}
	if first == nil {
		return nil, nil
	}
	err = s.store.PinUserKey(ctx, u.ID, first.OPRFPublicKey, first.KeyID)
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return nil, storeFail(err, "user")
	}
	if u, err = s.store.GetUser(ctx, u.ID); err != nil {
		return nil, storeFail(err, "user")
	}
	return u.DevicePublicKey, nil
}

// verifyProof checks a device's POPRF evaluation of blinded under info with
// its key pkD. Any failure of the device's values is 400 bad_proof.
func verifyProof(pkD, info []byte, blinded, evaluated [][]byte, proof []byte) error {
	pk, err := oprf.ParsePublicKey(pkD)
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	if len(evaluated) != len(blinded) {
		return fail(errBadProof, msgBatch)
	}
	if err := oprf.VerifyPOPRF(pk, info, blinded, evaluated, proof); err != nil {
		return failCause(errBadProof, msgBadProof, err)
	}
	return nil
}

// Messages of bad_proof.
const (
	msgBatch    = "evaluated_elements must match the blinded elements one for one"
	msgBadProof = "the proof does not verify for this device key and this request"
)

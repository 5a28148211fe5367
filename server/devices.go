package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// The user's device set (DESIGN.md): who may change a device's state, and
// the evidence anyone can check.

// userDevices: GET /v1/users/{uid}/devices, for the creating client with
// users:admin or any client with records:access (which reads records, and
// so must be able to check who approved them). Devices that never
// confirmed their enrollment carry no evidence.
func (s *Server) userDevices(c *echo.Context) error {
	uid, err := pathID(c, "uid", ids.User)
	if err != nil {
		return err
	}
	// The scope is checked before the store is read, so that a client
	// without it cannot learn which user ids exist.
	admin, access := hasScope(c, ScopeUsersAdmin), hasScope(c, ScopeRecordsAccess)
	if !admin && !access {
		return fail(errForbidden, "only the creating client with users:admin or a client with records:access may list the user's devices")
	}
	ctx := c.Request().Context()
	u, err := s.store.GetUser(ctx, uid)
	if err != nil {
		return storeFail(err, "user")
	}
	if !access && u.ClientID != authClient(c).ID {
		return fail(errForbidden, "the user belongs to another client")
	}
	devs, err := s.store.UserDevices(ctx, uid)
	if err != nil {
		return storeFail(err, "device")
	}
	out := api.DeviceList{UserKeyID: u.DeviceKeyID, Devices: make([]api.Device, 0, len(devs))}
	for _, d := range devs {
		v := api.Device{
			DeviceID: d.ID, Name: d.Name, State: d.State, Platform: d.Platform, OPRFPublicKey: d.OPRFPublicKey,
			SigningPublicKey: d.SigningPublicKey, EnrolledAt: wire(d.CreatedAt),
		}
		if ev := d.Evidence; ev.EnrollSignature != nil {
			stmt, err := threshold.EnrollStatement(d.UserID, d.ID, d.OPRFPublicKey, d.SigningPublicKey, d.CheckBlinded)
			if err != nil {
				return failCause(errInternal, msgInternal, err)
			}
			v.Evidence = &api.DeviceEvidence{
				EnrollStatement: stmt, EnrollSignature: ev.EnrollSignature, BlindedElements: d.CheckBlinded,
				EvaluatedElements: ev.EvaluatedElements, Proof: ev.Proof, AddStatement: ev.AddStatement, AddSignature: ev.AddSignature,
			}
		}
		out.Devices = append(out.Devices, v)
	}
	return c.JSON(http.StatusOK, out)
}

// suspendDevice: DELETE /v1/users/{uid}/devices/{device_id}, by the
// creating client with users:admin. An active device becomes suspended: its
// signed calls are refused at once; suspension never unpins pkD.
func (s *Server) suspendDevice(c *echo.Context) error {
	u, err := s.ownUser(c)
	if err != nil {
		return err
	}
	d, err := s.userDevice(c, u.ID)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.moveDevice(ctx, d, store.DeviceActive, store.DeviceSuspended); err != nil {
		return err
	}
	s.hub.EndDevice(d.UserID, d.ID)
	s.audit(ctx, u.ID, store.EventDeviceSuspended, authClient(c).ID, d.ID, deviceDetails{DeviceKeyID: d.KeyID, State: store.DeviceSuspended})
	return c.JSON(http.StatusOK, api.DeviceState{DeviceID: d.ID, UserID: u.ID, State: store.DeviceSuspended})
}

// revokeDevice: POST /v1/device/devices/{device_id}/revoke, by an active
// device of the user, for itself or another of the user's devices (active
// or suspended). The body carries the signed revocation statement's time,
// which must be within MaxClockSkew of now, and its signature (401 if it
// does not verify under the calling device's key).
func (s *Server) revokeDevice(c *echo.Context) error {
	ch, err := s.signedChange(c, "revocation", threshold.RevokeStatement)
	if err != nil {
		return err
	}
	caller, d, stmt, in := ch.caller, ch.target, ch.statement, ch.body
	ctx := c.Request().Context()
	from := d.State
	if from != store.DeviceActive && from != store.DeviceSuspended {
		return fail(errConflict, "the device is "+from+"; only an active or suspended device can be revoked")
	}
	if err := s.moveDevice(ctx, d, from, store.DeviceRevoked); err != nil {
		return err
	}
	s.hub.EndDevice(d.UserID, d.ID)
	s.audit(ctx, d.UserID, store.EventDeviceRevoked, caller.ID, d.ID,
		approvalDetails{DeviceID: caller.ID, Statement: stmt, Signature: in.Signature})
	return c.JSON(http.StatusOK, api.DeviceState{DeviceID: d.ID, UserID: d.UserID, State: store.DeviceRevoked})
}

// deviceChange is a verified signed change of the user's device set: the
// calling device (holding the user's key), the target device of the path,
// the statement rebuilt and the body that signed it.
type deviceChange struct {
	caller, target *store.Device
	statement      []byte
	body           api.DeviceChange
}

// signedChange reads and checks the signed change of the path's device:
// the caller holds the user's key (403), the target is one of the user's
// devices (404), the body's time is within MaxClockSkew of now (400), and
// its signature by the caller verifies over statement(user, device, at)
// (401). what names the change in errors.
func (s *Server) signedChange(c *echo.Context, what string, statement func(userID, deviceID string, at time.Time) ([]byte, error)) (*deviceChange, error) {
	caller, err := s.keyHolder(c)
	if err != nil {
		return nil, err
	}
	d, err := s.userDevice(c, caller.UserID)
	if err != nil {
		return nil, err
	}
	ch := &deviceChange{caller: caller, target: d}
	if err := decodeJSON(c, &ch.body); err != nil {
		return nil, err
	}
	if skew := s.now().Sub(ch.body.At); skew > MaxClockSkew || skew < -MaxClockSkew {
		return nil, fail(errBadRequest, "the "+what+"'s time is not now")
	}
	if ch.statement, err = statement(d.UserID, d.ID, ch.body.At); err != nil {
		return nil, failCause(errBadRequest, "malformed "+what, err)
	}
	if threshold.Verify(caller.SigningPublicKey, ch.statement, ch.body.Signature) != nil {
		return nil, errAuth
	}
	return ch, nil
}

// cancelDevice: POST /v1/device/devices/{device_id}/cancel, by an active
// device of the user: a recovery enrollment still pending is cancelled and
// never becomes active.
func (s *Server) cancelDevice(c *echo.Context) error {
	caller, err := s.keyHolder(c)
	if err != nil {
		return err
	}
	d, err := s.userDevice(c, caller.UserID)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.moveDevice(ctx, d, store.DeviceRecoveryPending, store.DeviceCancelled); err != nil {
		return err
	}
	s.audit(ctx, d.UserID, store.EventDeviceCancelled, caller.ID, d.ID, deviceDetails{DeviceKeyID: d.KeyID, State: store.DeviceCancelled})
	return c.JSON(http.StatusOK, api.DeviceState{DeviceID: d.ID, UserID: d.UserID, State: store.DeviceCancelled})
}

// userDevice loads the device of path parameter device_id, which must be
// one of user userID's (404 otherwise).
func (s *Server) userDevice(c *echo.Context, userID string) (*store.Device, error) {
	id, err := pathID(c, "device_id", ids.Device)
	if err != nil {
		return nil, err
	}
	d, err := s.store.GetDevice(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.UserID != userID) {
		return nil, fail(errNotFound, "device not found")
	}
	if err != nil {
		return nil, storeFail(err, "device")
	}
	return d, nil
}

// moveDevice moves d from -> to in one conditional update; 409 if d is not
// (or no longer) in from.
func (s *Server) moveDevice(ctx context.Context, d *store.Device, from, to string) error {
	if d.State != from {
		return fail(errConflict, "the device is "+d.State+", not "+from)
	}
	err := s.store.SetDeviceState(ctx, d.ID, from, to, s.now())
	if errors.Is(err, store.ErrConflict) {
		return fail(errConflict, "the device changed state meanwhile")
	}
	if err != nil {
		return storeFail(err, "device")
	}
	d.State = to
	return nil
}

// ripeRecovery activates a recovery enrollment whose RecoveryDelay has
// passed without an active device cancelling it; it reports whether d is
// now active. It runs on the device's own signed call, so no sweeper is
// needed: the recovered device is active from its first call after the
// delay.
func (s *Server) ripeRecovery(ctx context.Context, d *store.Device) (bool, error) {
	if d.State != store.DeviceRecoveryPending || s.now().Before(d.StateAt.Add(RecoveryDelay)) {
		return false, nil
	}
	err := s.store.SetDeviceState(ctx, d.ID, store.DeviceRecoveryPending, store.DeviceActive, s.now())
	if errors.Is(err, store.ErrConflict) {
		return false, nil // cancelled meanwhile
	}
	if err != nil {
		return false, storeFail(err, "device")
	}
	d.State = store.DeviceActive
	s.audit(ctx, d.UserID, store.EventDeviceEnrolled, d.ID, d.ID, deviceDetails{DeviceKeyID: d.KeyID, Via: viaRecovery, State: store.DeviceActive, Platform: d.Platform})
	return true, nil
}

// keyHolder returns the calling device if it holds its user's pinned key:
// only such a device may change the user's device set (a device enrolled
// with another key before keys were pinned may not).
func (s *Server) keyHolder(c *echo.Context) (*store.Device, error) {
	caller := authDevice(c)
	ctx := c.Request().Context()
	u, err := s.store.GetUser(ctx, caller.UserID)
	if err != nil {
		return nil, storeFail(err, "user")
	}
	pkD, err := s.pinnedKey(ctx, u)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pkD, caller.OPRFPublicKey) {
		return nil, fail(errForbidden, "only a device holding the user's device key may change the user's devices")
	}
	return caller, nil
}

package device

import (
	"context"
	"fmt"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/threshold"
)

// deviceStateAnswer is the server's answer to a device set change.
type deviceStateAnswer struct {
	DeviceID string `json:"device_id"`
	UserID   string `json:"user_id"`
	State    string `json:"state"`
}

type revokeBody struct {
	At        time.Time `json:"at"`
	Signature []byte    `json:"signature"`
}

// Revoke revokes device deviceID of this device's user (this device itself,
// or another): it signs threshold.RevokeStatement for now and posts it
// (POST /v1/device/devices/{id}/revoke). A revoked device's calls are
// refused at once; its kD is not rotated (README, threat model). The caller
// asks for fresh user verification first (the passphrase). A server refusal
// is an *APIError (404 unknown device, 409 not active or suspended).
func (c *Client) Revoke(ctx context.Context, deviceID string) error {
	if c.id == nil {
		return ErrNotEnrolled
	}
	if ids.Check(ids.Device, deviceID) != nil {
		return fmt.Errorf("device: %q is not a device id", deviceID)
	}
	at := c.now().UTC().Truncate(time.Second)
	stmt, err := threshold.RevokeStatement(c.id.UserID, deviceID, at)
	if err != nil {
		return err
	}
	var out deviceStateAnswer
	err = c.do(ctx, call{method: methodPost, target: "/v1/device/devices/" + deviceID + "/revoke", signed: true,
		body: &revokeBody{At: at, Signature: threshold.Sign(c.id.SigningKey, stmt)}, want: statusOK, out: &out})
	if err != nil {
		return fmt.Errorf("device: revoking %s: %w", deviceID, err)
	}
	if out.DeviceID != deviceID || out.State != "revoked" {
		return fmt.Errorf("%w: revocation answer names another device or state", ErrProtocol)
	}
	return nil
}

// Cancel cancels a recovery enrollment of this device's user that is still
// pending (POST /v1/device/devices/{id}/cancel): that device never becomes
// active. A server refusal is an *APIError (404 unknown device, 409 not a
// pending recovery).
func (c *Client) Cancel(ctx context.Context, deviceID string) error {
	if c.id == nil {
		return ErrNotEnrolled
	}
	if ids.Check(ids.Device, deviceID) != nil {
		return fmt.Errorf("device: %q is not a device id", deviceID)
	}
	var out deviceStateAnswer
	err := c.do(ctx, call{method: methodPost, target: "/v1/device/devices/" + deviceID + "/cancel", signed: true,
		want: statusOK, out: &out})
	if err != nil {
		return fmt.Errorf("device: cancelling %s: %w", deviceID, err)
	}
	if out.DeviceID != deviceID || out.State != "cancelled" {
		return fmt.Errorf("%w: cancellation answer names another device or state", ErrProtocol)
	}
	return nil
}

// Reactivate reactivates suspended device deviceID of this device's user:
// it signs threshold.ReactivateStatement for now and posts it (POST
// /v1/device/devices/{id}/reactivate). Only a device's signed statement
// reactivates a suspended device (DESIGN.md); the statement's layout is
// our addition. The caller asks for fresh user verification first. A
// server refusal is an *APIError (404 unknown device, 409 not suspended).
func (c *Client) Reactivate(ctx context.Context, deviceID string) error {
	if c.id == nil {
		return ErrNotEnrolled
	}
	if ids.Check(ids.Device, deviceID) != nil {
		return fmt.Errorf("device: %q is not a device id", deviceID)
	}
	at := c.now().UTC().Truncate(time.Second)
	stmt, err := threshold.ReactivateStatement(c.id.UserID, deviceID, at)
	if err != nil {
		return err
	}
	var out deviceStateAnswer
	err = c.do(ctx, call{method: methodPost, target: api.DeviceReactivatePath(deviceID), signed: true,
		body: &api.DeviceChange{At: at, Signature: threshold.Sign(c.id.SigningKey, stmt)}, want: statusOK, out: &out})
	if err != nil {
		return fmt.Errorf("device: reactivating %s: %w", deviceID, err)
	}
	if out.DeviceID != deviceID || out.State != api.DeviceActive {
		return fmt.Errorf("%w: reactivation answer names another device or state", ErrProtocol)
	}
	return nil
}

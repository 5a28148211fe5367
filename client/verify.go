package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/verify"
)

// ErrNotVerified is wrapped by VerifyApproval when the evidence the server
// gave does not prove that the user's device approved the record; the
// wrapped message names the check that failed.
var ErrNotVerified = errors.New("client: the approval does not verify")

// ApprovalReport is what VerifyApproval established about a sealed record.
type ApprovalReport struct {
	RecordID string
	// DeviceID is the listed device whose signing key signed the approval.
	DeviceID string
	// UserKeyID is the fingerprint (device_key_id) of the user's device
	// key that the evidence verifies against.
	UserKeyID string
	// UserKeyChecked says whether UserKeyID was compared with the key the
	// caller gave; without it the check proves only that some holder of
	// that key approved, not that the key is the user's.
	UserKeyChecked bool
}

// VerifyApproval fetches a sealed record and its user's device list and
// checks, offline and with code of its own (the same as `assent verify`),
// that the record's approval statement is rebuilt byte for byte from the
// record's fields, that it is signed by a device of the list, that this
// device's own enrollment proof binds its signing key to the user's key,
// that the approval's evaluation proof verifies under that key, and, when
// userKeyID is not empty, that the key's fingerprint is userKeyID: the one
// the person reads off their phone (`assent device status`), never one the
// server supplied.
//
// It proves neither when the statement was signed nor that the device was
// not revoked then, and a server can show different viewers different
// device lists (README, "The user's device set").
//
// Errors: ErrNotVerified (wrapping the failed check), or the errors of
// Record and the device list call (an *api.Error for a refusal).
func (c *Client) VerifyApproval(ctx context.Context, rid, userKeyID string) (*ApprovalReport, error) {
	rec, err := c.Record(ctx, rid, 0)
	if err != nil {
		return nil, err
	}
	if rec.State != api.RecordSealed {
		return nil, fmt.Errorf("%w: record %s is %s, not sealed", ErrNotVerified, rid, rec.State)
	}
	raw, err := c.Devices(ctx, rec.UserID)
	if err != nil {
		return nil, err
	}
	devices, err := verify.ParseDeviceList(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotVerified, err)
	}
	r, err := verify.Check(rec, devices, userKeyID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotVerified, err)
	}
	return &ApprovalReport{RecordID: rec.RecordID, DeviceID: r.Device.DeviceID, UserKeyID: r.UserKeyID, UserKeyChecked: r.UserKeyChecked}, nil
}

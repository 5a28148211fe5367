package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/assent-dev/assent/api"
)

// CreateUser creates a user (POST /v1/users, scope users:admin) and returns
// its id and first enrollment code, to hand to the user's device. An
// externalID this client already used fails with api.ErrConflict; recover
// the user with UserByExternalID.
func (c *Client) CreateUser(ctx context.Context, externalID, displayName string) (*api.Enrollment, error) {
	var out api.Enrollment
	in := api.CreateUserRequest{ExternalID: externalID, DisplayName: displayName}
	if err := c.call(ctx, http.MethodPost, api.PathUsers, in, http.StatusCreated, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// User reads a user this client created (GET /v1/users/{uid}): its state
// and its active devices.
func (c *Client) User(ctx context.Context, uid string) (*api.User, error) {
	var out api.User
	if err := c.call(ctx, http.MethodGet, api.UserPath(uid), nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UserByExternalID finds the user this client created with externalID
// (GET /v1/users?external_id=X), for instance after a lost 201. None fails
// with api.ErrNotFound.
func (c *Client) UserByExternalID(ctx context.Context, externalID string) (*api.User, error) {
	var out api.User
	path := api.PathUsers + "?" + url.Values{api.QueryExternalID: {externalID}}.Encode()
	if err := c.call(ctx, http.MethodGet, path, nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// NewEnrollment issues a fresh single-use enrollment code for a new device
// of the user (POST /v1/users/{uid}/enrollment).
func (c *Client) NewEnrollment(ctx context.Context, uid string) (*api.Enrollment, error) {
	var out api.Enrollment
	if err := c.call(ctx, http.MethodPost, api.UserEnrollmentPath(uid), nil, http.StatusCreated, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Audit returns the user's audit chain (GET /v1/users/{uid}/audit). The
// entries are as the server sends them; a device verifies them, a third
// party may pin the last hash.
func (c *Client) Audit(ctx context.Context, uid string) ([]api.AuditEntry, error) {
	var out api.AuditList
	if err := c.call(ctx, http.MethodGet, api.UserAuditPath(uid), nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return out.Entries, nil
}

// Devices returns the user's device set with its evidence
// (GET /v1/users/{uid}/devices) as raw JSON: the evidence format belongs to
// the device-set protocol, and a verifier decodes it.
func (c *Client) Devices(ctx context.Context, uid string) (json.RawMessage, error) {
	var out json.RawMessage
	if err := c.call(ctx, http.MethodGet, api.UserDevicesPath(uid), nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// SuspendDevice suspends an active device of the user
// (DELETE /v1/users/{uid}/devices/{device_id}, users:admin, the creating
// client): its signed calls are refused at once, and only a device's signed
// statement brings it back. Errors: api.ErrNotFound, api.ErrConflict (not
// active), api.ErrForbidden.
func (c *Client) SuspendDevice(ctx context.Context, uid, deviceID string) error {
	return c.call(ctx, http.MethodDelete, api.UserDevicesPath(uid)+"/"+url.PathEscape(deviceID), nil, http.StatusOK, nil)
}

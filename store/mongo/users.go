package mongo

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// CreateUser implements store.Store. The unique index (client_id,
// external_id) refuses a second user with the same external id.
func (s *Store) CreateUser(ctx context.Context, u *store.User) error {
	if err := check.User(u); err != nil {
		return err
	}
	return s.insert(ctx, "create user", s.users, toUserDoc(u))
}

// GetUser implements store.Store.
func (s *Store) GetUser(ctx context.Context, id string) (*store.User, error) {
	if err := check.ID("user id", ids.User, id); err != nil {
		return nil, err
	}
	return getByID(ctx, s, "get user", s.users, id, (*userDoc).user)
}

// UserByExternalID implements store.Store, on the unique (client_id,
// external_id) index.
func (s *Store) UserByExternalID(ctx context.Context, clientID, externalID string) (*store.User, error) {
	if err := check.ID("client id", ids.Client, clientID); err != nil {
		return nil, err
	}
	if err := check.Text("external id", externalID, true); err != nil {
		return nil, err
	}
	var d userDoc
	if err := s.get(ctx, "user by external id", s.users, bson.D{eq("client_id", clientID), eq("external_id", externalID)}, &d); err != nil {
		return nil, err
	}
	return d.user(), nil
}

// CreateEnrollment implements store.Store. The code hash, in hex, is the
// document id.
func (s *Store) CreateEnrollment(ctx context.Context, e *store.Enrollment) error {
	if err := check.Enrollment(e); err != nil {
		return err
	}
	return s.insert(ctx, "create enrollment", s.enrollments, &enrollmentDoc{
		ID: hex.EncodeToString(e.CodeHash), UserID: e.UserID, State: enrollmentUnused, ExpiresAt: e.ExpiresAt,
	})
}

// UseEnrollment implements store.Store.
func (s *Store) UseEnrollment(ctx context.Context, codeHash []byte, now time.Time) (*store.Enrollment, error) {
	if err := check.UseEnrollment(codeHash, now); err != nil {
		return nil, err
	}
	var d enrollmentDoc
	if err := s.transition(ctx, "use enrollment", s.enrollments, hex.EncodeToString(codeHash),
		bson.D{eq("state", enrollmentUnused), eq("expires_at", cmp("$gt", now))},
		set(eq("state", enrollmentUsed), eq("used_at", now)), &d, now, enrollmentUnused); err != nil {
		return nil, err
	}
	return &store.Enrollment{
		CodeHash: append([]byte(nil), codeHash...), UserID: d.UserID, ExpiresAt: utc(d.ExpiresAt), UsedAt: utc(d.UsedAt),
	}, nil
}

// CreateDevice implements store.Store.
func (s *Store) CreateDevice(ctx context.Context, d *store.Device) error {
	if err := check.Device(d); err != nil {
		return err
	}
	return s.insert(ctx, "create device", s.devices, toDeviceDoc(d))
}

// GetDevice implements store.Store.
func (s *Store) GetDevice(ctx context.Context, id string) (*store.Device, error) {
	if err := check.ID("device id", ids.Device, id); err != nil {
		return nil, err
	}
	return getByID(ctx, s, "get device", s.devices, id, (*deviceDoc).device)
}

// ConfirmDevice implements store.Store.
func (s *Store) ConfirmDevice(ctx context.Context, id, to string, ev store.DeviceEvidence, now time.Time) error {
	if err := check.ConfirmDevice(id, to, &ev, now); err != nil {
		return err
	}
	fields := []bson.E{eq("state", to), eq("state_at", now), eq("evidence", toEvidenceDoc(&ev))}
	if to == store.DeviceActive {
		fields = append(fields, eq("activated_at", now))
	}
	return s.transition(ctx, "confirm device", s.devices, id, bson.D{eq("state", store.DevicePending)},
		set(fields...), nil, time.Time{}, store.DevicePending)
}

// SetDeviceState implements store.Store.
func (s *Store) SetDeviceState(ctx context.Context, id, from, to string, now time.Time) error {
	if err := check.SetDeviceState(id, from, to, now); err != nil {
		return err
	}
	fields := []bson.E{eq("state", to), eq("state_at", now)}
	if from == store.DeviceRecoveryPending && to == store.DeviceActive {
		fields = append(fields, eq("activated_at", now))
	}
	return s.transition(ctx, "set device state", s.devices, id, bson.D{eq("state", from)},
		set(fields...), nil, time.Time{}, from)
}

// maxDevices bounds the device lists, which have no limit argument; a user
// has a handful of devices.
const maxDevices = store.MaxLimit

// ActiveDevices implements store.Store.
func (s *Store) ActiveDevices(ctx context.Context, userID string) ([]*store.Device, error) {
	if err := check.ID("user id", ids.User, userID); err != nil {
		return nil, err
	}
	return list(ctx, s, "active devices", s.devices, bson.D{eq("user_id", userID), eq("state", store.DeviceActive)},
		asc("created_at"), maxDevices, (*deviceDoc).device)
}

// UserDevices implements store.Store.
func (s *Store) UserDevices(ctx context.Context, userID string) ([]*store.Device, error) {
	if err := check.ID("user id", ids.User, userID); err != nil {
		return nil, err
	}
	return list(ctx, s, "user devices", s.devices, bson.D{eq("user_id", userID)}, asc("created_at"), maxDevices, (*deviceDoc).device)
}

// userUnpinned names, for whyNot, the state of a user whose key is not
// pinned: users have no state field, so a failed pin is explained as
// ErrNotFound or ErrConflict.
const userUnpinned = "unpinned"

// PinUserKey implements store.Store.
func (s *Store) PinUserKey(ctx context.Context, userID string, pkD []byte, keyID string) error {
	if err := check.PinUserKey(userID, pkD, keyID); err != nil {
		return err
	}
	return s.transition(ctx, "pin user key", s.users, userID, bson.D{eq("device_key_id", cmp("$exists", false))},
		set(eq("device_public_key", pkD), eq("device_key_id", keyID)), nil, time.Time{}, userUnpinned)
}

// CreateClient implements store.Store. The unique index on key_prefix
// refuses a second client with the same prefix.
func (s *Store) CreateClient(ctx context.Context, c *store.Client) error {
	if err := check.Client(c); err != nil {
		return err
	}
	return s.insert(ctx, "create client", s.clients, toClientDoc(c))
}

// ClientByPrefix implements store.Store.
func (s *Store) ClientByPrefix(ctx context.Context, prefix string) (*store.Client, error) {
	if err := check.KeyPrefix(prefix); err != nil {
		return nil, err
	}
	var d clientDoc
	if err := s.get(ctx, "client by prefix", s.clients, bson.D{eq("key_prefix", prefix)}, &d); err != nil {
		return nil, err
	}
	return d.client(), nil
}

// Clients implements store.Store.
func (s *Store) Clients(ctx context.Context, limit int) ([]*store.Client, error) {
	if err := check.Limit(limit); err != nil {
		return nil, err
	}
	return list(ctx, s, "clients", s.clients, bson.D{}, asc("created_at"), limit, (*clientDoc).client)
}

// DeleteClient implements store.Store.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	if err := check.ID("client id", ids.Client, id); err != nil {
		return err
	}
	octx, cancel := s.opContext(ctx)
	defer cancel()
	r, err := s.clients.DeleteOne(octx, bson.D{eq("_id", id)})
	if err != nil {
		return fail("delete client", err)
	}
	if r.DeletedCount == 0 {
		return fmt.Errorf("mongo: delete client: %w", store.ErrNotFound)
	}
	return nil
}

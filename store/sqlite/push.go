package sqlite

import (
	"fmt"

	"context"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// PutPushSubscription implements store.Store: one upsert on the device id
// that changes nothing when the row is already p; the unique endpoint
// column refuses another device's endpoint.
func (s *Store) PutPushSubscription(ctx context.Context, p *store.PushSubscription) (bool, error) {
	if err := check.PushSubscription(p); err != nil {
		return false, err
	}
	return s.update(ctx, "put push subscription",
		`INSERT INTO push_subscriptions (device_id, endpoint, p256dh, auth) VALUES (?, ?, ?, ?)
		ON CONFLICT (device_id) DO UPDATE SET endpoint = excluded.endpoint, p256dh = excluded.p256dh, auth = excluded.auth
		WHERE endpoint != excluded.endpoint OR p256dh != excluded.p256dh OR auth != excluded.auth`,
		p.DeviceID, p.Endpoint, p.P256dh, p.Auth)
}

// PushSubscriptions implements store.Store.
func (s *Store) PushSubscriptions(ctx context.Context, userID string) ([]*store.PushSubscription, error) {
	if err := check.ID("user id", ids.User, userID); err != nil {
		return nil, err
	}
	var out []*store.PushSubscription
	err := s.list(ctx, "push subscriptions", func(r scanner) error {
		p := new(store.PushSubscription)
		out = append(out, p)
		return r.Scan(&p.DeviceID, &p.Endpoint, &p.P256dh, &p.Auth)
	}, `SELECT p.device_id, p.endpoint, p.p256dh, p.auth FROM push_subscriptions p JOIN devices d ON d.id = p.device_id
		WHERE d.user_id = ? AND d.state = 'active' ORDER BY d.created_at, d.rowid LIMIT ?`, userID, store.MaxLimit)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeletePushSubscription implements store.Store.
func (s *Store) DeletePushSubscription(ctx context.Context, deviceID, endpoint string) error {
	if err := check.ID("device id", ids.Device, deviceID); err != nil {
		return err
	}
	if err := check.PushEndpoint(endpoint); err != nil {
		return err
	}
	ok, err := s.update(ctx, "delete push subscription",
		`DELETE FROM push_subscriptions WHERE device_id = ? AND endpoint = ?`, deviceID, endpoint)
	if err == nil && !ok {
		err = fmt.Errorf("sqlite: delete push subscription: %w", store.ErrNotFound)
	}
	return err
}

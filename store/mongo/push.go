package mongo

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/internal/check"
)

// pushDoc is a device's Web Push subscription, keyed by the device id (one
// per device); the unique "endpoint" index gives an endpoint to one device.
type pushDoc struct {
	DeviceID string `bson:"_id"`
	Endpoint string `bson:"endpoint"`
	P256dh   []byte `bson:"p256dh"`
	Auth     []byte `bson:"auth"`
}

func (d *pushDoc) subscription() *store.PushSubscription {
	return &store.PushSubscription{DeviceID: d.DeviceID, Endpoint: d.Endpoint, P256dh: d.P256dh, Auth: d.Auth}
}

// PutPushSubscription implements store.Store: one upserting replace, which
// modifies nothing when the document is already p.
func (s *Store) PutPushSubscription(ctx context.Context, p *store.PushSubscription) (bool, error) {
	if err := check.PushSubscription(p); err != nil {
		return false, err
	}
	const op = "put push subscription"
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	// The unique index is the arbiter; this read only names the conflict
	// where the engine reports an update's index violation as an internal
	// error (FerretDB) rather than as a duplicate key.
	c := s.db.Collection(collPush)
	n, err := c.CountDocuments(ctx, bson.D{eq("endpoint", p.Endpoint), eq("_id", cmp("$ne", p.DeviceID))})
	if err != nil {
		return false, fail(op, err)
	}
	if n > 0 {
		return false, fmt.Errorf("mongo: %s: %w: the endpoint is another device's", op, store.ErrConflict)
	}
	doc := pushDoc{DeviceID: p.DeviceID, Endpoint: p.Endpoint, P256dh: p.P256dh, Auth: p.Auth}
	r, err := c.ReplaceOne(ctx, bson.D{eq("_id", p.DeviceID)}, doc, options.Replace().SetUpsert(true))
	if err != nil {
		return false, fail(op, err)
	}
	return r.UpsertedCount > 0 || r.ModifiedCount > 0, nil
}

// PushSubscriptions implements store.Store: the active devices, then their
// subscriptions, put in the devices' order (no joins in this store; and
// FerretDB fails on sorting this listing by _id).
func (s *Store) PushSubscriptions(ctx context.Context, userID string) ([]*store.PushSubscription, error) {
	devices, err := s.ActiveDevices(ctx, userID)
	if err != nil || len(devices) == 0 {
		return nil, err
	}
	order := make(map[string]int, len(devices))
	idList := make([]string, len(devices))
	for i, d := range devices {
		order[d.ID], idList[i] = i, d.ID
	}
	subs, err := list(ctx, s, "push subscriptions", s.db.Collection(collPush), bson.D{eq("_id", cmp("$in", idList))},
		bson.D{}, maxDevices, (*pushDoc).subscription)
	if err != nil || len(subs) == 0 {
		return nil, err
	}
	out := make([]*store.PushSubscription, len(devices))
	for _, p := range subs {
		out[order[p.DeviceID]] = p
	}
	kept := out[:0]
	for _, p := range out {
		if p != nil {
			kept = append(kept, p)
		}
	}
	return kept, nil
}

// DeletePushSubscription implements store.Store.
func (s *Store) DeletePushSubscription(ctx context.Context, deviceID, endpoint string) error {
	if err := check.ID("device id", ids.Device, deviceID); err != nil {
		return err
	}
	if err := check.PushEndpoint(endpoint); err != nil {
		return err
	}
	const op = "delete push subscription"
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	r, err := s.db.Collection(collPush).DeleteOne(ctx, bson.D{eq("_id", deviceID), eq("endpoint", endpoint)})
	if err != nil {
		return fail(op, err)
	}
	if r.DeletedCount == 0 {
		return fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

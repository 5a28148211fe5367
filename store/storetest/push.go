package storetest

import (
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

func newPushSubscription(t testing.TB, device string) *store.PushSubscription {
	return &store.PushSubscription{
		DeviceID: device,
		Endpoint: "https://push.example/send/" + newID(t, ids.Request),
		P256dh:   random(store.PushP256dhSize),
		Auth:     random(store.PushAuthSize),
	}
}

// wantSubscriptions checks PushSubscriptions(user) against want, in order.
func wantSubscriptions(t *testing.T, s store.Store, user string, want []*store.PushSubscription, what string) {
	t.Helper()
	got, err := s.PushSubscriptions(ctxOf(t), user)
	if err != nil {
		t.Fatalf("PushSubscriptions %s: %v", what, err)
	}
	if len(want) == 0 {
		want = nil
	}
	same(t, got, want, "PushSubscriptions %s", what)
}

func testPushSubscriptions(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	user := newID(t, ids.User)
	var devs []*store.Device
	for i := range 3 {
		d := newDevice(t, user, t0.Add(time.Duration(i)*time.Minute))
		want(t, s.CreateDevice(ctx, d), nil, "CreateDevice %d", i)
		devs = append(devs, d)
	}
	// Devices 2 and 0 active, device 1 left pending.
	for _, i := range []int{2, 0} {
		want(t, s.ConfirmDevice(ctx, devs[i].ID, store.DeviceActive, newEvidence(), t0.Add(time.Hour)), nil, "ConfirmDevice %d", i)
	}
	wantSubscriptions(t, s, user, nil, "before any")

	subs := make([]*store.PushSubscription, 3)
	for _, i := range []int{2, 1, 0} {
		subs[i] = newPushSubscription(t, devs[i].ID)
		changed, err := s.PutPushSubscription(ctx, subs[i])
		want(t, err, nil, "PutPushSubscription %d", i)
		if !changed {
			t.Fatalf("PutPushSubscription %d of a new subscription: changed = false", i)
		}
	}
	wantSubscriptions(t, s, user, []*store.PushSubscription{subs[0], subs[2]}, "of the active devices, oldest device first")

	changed, err := s.PutPushSubscription(ctx, subs[0])
	want(t, err, nil, "PutPushSubscription again")
	if changed {
		t.Fatal("PutPushSubscription of the same subscription: changed = true")
	}
	stolen := *subs[0]
	stolen.DeviceID = devs[2].ID
	_, err = s.PutPushSubscription(ctx, &stolen)
	want(t, err, store.ErrConflict, "PutPushSubscription of another device's endpoint")

	renewed := newPushSubscription(t, devs[0].ID)
	changed, err = s.PutPushSubscription(ctx, renewed)
	want(t, err, nil, "PutPushSubscription replacing")
	if !changed {
		t.Fatal("PutPushSubscription replacing: changed = false")
	}
	rekeyed := *renewed
	rekeyed.Auth = random(store.PushAuthSize)
	changed, err = s.PutPushSubscription(ctx, &rekeyed)
	want(t, err, nil, "PutPushSubscription with new keys")
	if !changed {
		t.Fatal("PutPushSubscription with new keys: changed = false")
	}
	wantSubscriptions(t, s, user, []*store.PushSubscription{&rekeyed, subs[2]}, "after replacing")

	// A 410 for the replaced endpoint leaves the new one.
	want(t, s.DeletePushSubscription(ctx, devs[0].ID, subs[0].Endpoint), store.ErrNotFound, "DeletePushSubscription of a replaced endpoint")
	want(t, s.DeletePushSubscription(ctx, devs[2].ID, rekeyed.Endpoint), store.ErrNotFound, "DeletePushSubscription naming another device")
	want(t, s.DeletePushSubscription(ctx, devs[0].ID, rekeyed.Endpoint), nil, "DeletePushSubscription")
	want(t, s.DeletePushSubscription(ctx, devs[0].ID, rekeyed.Endpoint), store.ErrNotFound, "DeletePushSubscription twice")
	wantSubscriptions(t, s, user, []*store.PushSubscription{subs[2]}, "after deleting")

	// A revoked device's subscription is not listed.
	want(t, s.SetDeviceState(ctx, devs[2].ID, store.DeviceActive, store.DeviceRevoked, t0.Add(2*time.Hour)), nil, "SetDeviceState revoked")
	wantSubscriptions(t, s, user, nil, "after revoking")
	wantSubscriptions(t, s, newID(t, ids.User), nil, "of a user without devices")

	for name, edit := range map[string]func(p *store.PushSubscription){
		"device id":     func(p *store.PushSubscription) { p.DeviceID = newID(t, ids.User) },
		"empty url":     func(p *store.PushSubscription) { p.Endpoint = "" },
		"long url":      func(p *store.PushSubscription) { p.Endpoint = string(make([]byte, store.MaxPushEndpoint+1)) },
		"short p256dh":  func(p *store.PushSubscription) { p.P256dh = p.P256dh[:64] },
		"long auth":     func(p *store.PushSubscription) { p.Auth = append(p.Auth, 0) },
		"missing auth":  func(p *store.PushSubscription) { p.Auth = nil },
		"missing point": func(p *store.PushSubscription) { p.P256dh = nil },
	} {
		bad := newPushSubscription(t, devs[1].ID)
		edit(bad)
		_, err := s.PutPushSubscription(ctx, bad)
		want(t, err, store.ErrInvalid, "PutPushSubscription with a bad %s", name)
	}
	_, err = s.PutPushSubscription(ctx, nil)
	want(t, err, store.ErrInvalid, "PutPushSubscription(nil)")
	_, err = s.PushSubscriptions(ctx, "usr_")
	want(t, err, store.ErrInvalid, "PushSubscriptions of a malformed user id")
	want(t, s.DeletePushSubscription(ctx, "dev_", subs[1].Endpoint), store.ErrInvalid, "DeletePushSubscription of a malformed device id")
	want(t, s.DeletePushSubscription(ctx, devs[1].ID, ""), store.ErrInvalid, "DeletePushSubscription without an endpoint")
}

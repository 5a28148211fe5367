package storetest

import (
	"testing"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// testDeviceSet checks the user's device set (DESIGN.md): the key pinned
// once, every later device transition from exactly one state, and the list
// of all a user's devices.
func testDeviceSet(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	u := newUser(t, newID(t, ids.Client))
	want(t, s.CreateUser(ctx, u), nil, "CreateUser")
	pinned := newUser(t, u.ClientID)
	pinned.DevicePublicKey, pinned.DeviceKeyID = random(32), keyID()
	want(t, s.CreateUser(ctx, pinned), store.ErrInvalid, "CreateUser with a pinned key")

	pk, kid := random(32), keyID()
	want(t, s.PinUserKey(ctx, u.ID, pk, kid), nil, "PinUserKey")
	want(t, s.PinUserKey(ctx, u.ID, random(32), keyID()), store.ErrConflict, "PinUserKey with another key")
	want(t, s.PinUserKey(ctx, u.ID, pk, kid), store.ErrConflict, "PinUserKey a second time with the same key")
	want(t, s.PinUserKey(ctx, newID(t, ids.User), pk, kid), store.ErrNotFound, "PinUserKey of an unknown user")
	want(t, s.PinUserKey(ctx, u.ID, random(31), kid), store.ErrInvalid, "PinUserKey with a short key")
	want(t, s.PinUserKey(ctx, u.ID, pk, "xyz"), store.ErrInvalid, "PinUserKey with a bad key id")
	got, err := s.GetUser(ctx, u.ID)
	want(t, err, nil, "GetUser")
	u.DevicePublicKey, u.DeviceKeyID = pk, kid
	same(t, got, u, "GetUser after PinUserKey: the first key stays")

	// Every transition of DeviceTransitions, from its state only.
	d := newDevice(t, u.ID, t0)
	want(t, s.CreateDevice(ctx, d), nil, "CreateDevice")
	at := t0.Add(time.Minute)
	want(t, s.SetDeviceState(ctx, d.ID, store.DevicePending, store.DeviceActive, at), store.ErrInvalid, "SetDeviceState pending -> active (ConfirmDevice's)")
	want(t, s.SetDeviceState(ctx, d.ID, store.DeviceActive, store.DeviceRevoked, at), store.ErrConflict, "SetDeviceState from a state the device is not in")
	ev := newEvidence()
	ev.AddStatement, ev.AddSignature = random(200), random(64)
	want(t, s.ConfirmDevice(ctx, d.ID, store.DeviceRecoveryPending, ev, at), nil, "ConfirmDevice to recovery_pending")
	d.State, d.StateAt, d.Evidence = store.DeviceRecoveryPending, at, ev
	got2, err := s.GetDevice(ctx, d.ID)
	want(t, err, nil, "GetDevice")
	same(t, got2, d, "GetDevice of a recovery pending device (no activation time)")

	steps := []struct{ from, to string }{
		{store.DeviceRecoveryPending, store.DeviceActive},
		{store.DeviceActive, store.DeviceSuspended},
		{store.DeviceSuspended, store.DeviceActive},
		{store.DeviceActive, store.DeviceRevoked},
	}
	for i, st := range steps {
		at := t0.Add(time.Duration(i+2) * time.Minute)
		want(t, s.SetDeviceState(ctx, d.ID, st.from, st.to, at), nil, "SetDeviceState %s -> %s", st.from, st.to)
		want(t, s.SetDeviceState(ctx, d.ID, st.from, st.to, at), store.ErrConflict, "SetDeviceState %s -> %s again", st.from, st.to)
		if st.from == store.DeviceRecoveryPending {
			d.ActivatedAt = at
		}
		d.State, d.StateAt = st.to, at
		got, err := s.GetDevice(ctx, d.ID)
		want(t, err, nil, "GetDevice")
		same(t, got, d, "GetDevice after %s -> %s", st.from, st.to)
	}
	for _, to := range []string{store.DeviceActive, store.DeviceSuspended, store.DevicePending} {
		want(t, s.SetDeviceState(ctx, d.ID, store.DeviceRevoked, to, at), store.ErrInvalid, "SetDeviceState out of revoked to %s", to)
	}
	want(t, s.SetDeviceState(ctx, newID(t, ids.Device), store.DeviceActive, store.DeviceRevoked, at), store.ErrNotFound, "SetDeviceState of an unknown id")
	want(t, s.SetDeviceState(ctx, d.ID, store.DeviceActive, store.DeviceRevoked, time.Time{}), store.ErrInvalid, "SetDeviceState without a time")

	// A device added by transfer starts awaiting it; recovery can be cancelled.
	added := newDevice(t, u.ID, t0.Add(time.Second))
	added.State = store.DeviceAwaitingTransfer
	want(t, s.CreateDevice(ctx, added), nil, "CreateDevice awaiting transfer")
	want(t, s.ConfirmDevice(ctx, added.ID, store.DeviceActive, newEvidence(), at), store.ErrConflict, "ConfirmDevice before the transfer")
	want(t, s.SetDeviceState(ctx, added.ID, store.DeviceAwaitingTransfer, store.DevicePending, at), nil, "SetDeviceState awaiting_transfer -> pending")
	added.State, added.StateAt = store.DevicePending, at
	cancelled := newDevice(t, u.ID, t0.Add(2*time.Second))
	want(t, s.CreateDevice(ctx, cancelled), nil, "CreateDevice")
	want(t, s.ConfirmDevice(ctx, cancelled.ID, store.DeviceRecoveryPending, newEvidence(), at), nil, "ConfirmDevice to recovery_pending")
	want(t, s.SetDeviceState(ctx, cancelled.ID, store.DeviceRecoveryPending, store.DeviceCancelled, at), nil, "SetDeviceState recovery_pending -> cancelled")
	want(t, s.SetDeviceState(ctx, cancelled.ID, store.DeviceRecoveryPending, store.DeviceActive, at), store.ErrConflict, "activating a cancelled recovery")

	other := newDevice(t, newID(t, ids.User), t0)
	want(t, s.CreateDevice(ctx, other), nil, "CreateDevice of another user")
	all, err := s.UserDevices(ctx, u.ID)
	want(t, err, nil, "UserDevices")
	if len(all) != 3 || all[0].ID != d.ID || all[1].ID != added.ID || all[2].ID != cancelled.ID {
		t.Fatalf("UserDevices: %d devices, want the user's 3 in every state, oldest first", len(all))
	}
	same(t, all[1], added, "UserDevices: the added device")
	active, err := s.ActiveDevices(ctx, u.ID)
	want(t, err, nil, "ActiveDevices")
	if len(active) != 0 {
		t.Fatalf("ActiveDevices: %d, want none (revoked, pending and cancelled left out)", len(active))
	}
	none, err := s.UserDevices(ctx, newID(t, ids.User))
	want(t, err, nil, "UserDevices of a user without devices")
	if none != nil {
		t.Fatalf("UserDevices of a user without devices: %d", len(none))
	}
}

// testDevicePlatforms: a device keeps the platform it enrolled with
// (agent, web, or none said) through every read and every state change,
// and a platform the API does not know is refused.
func testDevicePlatforms(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	u := newUser(t, newID(t, ids.Client))
	want(t, s.CreateUser(ctx, u), nil, "CreateUser")
	var devs []*store.Device
	for i, p := range []string{api.PlatformAgent, api.PlatformWeb, ""} {
		d := newDevice(t, u.ID, t0.Add(time.Duration(i)*time.Second))
		d.Platform = p
		want(t, s.CreateDevice(ctx, d), nil, "CreateDevice with platform %q", p)
		got, err := s.GetDevice(ctx, d.ID)
		want(t, err, nil, "GetDevice")
		same(t, got, d, "GetDevice of a device with platform %q", p)
		devs = append(devs, d)
	}
	for _, p := range []string{"unknown", "Agent", "ios", "web ", "agent\x00"} {
		d := newDevice(t, u.ID, t0)
		d.Platform = p
		want(t, s.CreateDevice(ctx, d), store.ErrInvalid, "CreateDevice with platform %q", p)
		want(t, func() error { _, err := s.GetDevice(ctx, d.ID); return err }(), store.ErrNotFound, "GetDevice of a device refused for platform %q", p)
	}
	all, err := s.UserDevices(ctx, u.ID)
	want(t, err, nil, "UserDevices")
	same(t, all, devs, "UserDevices: each device with its platform")

	// Confirmed and then suspended, the web device is still web.
	web := devs[1]
	at := t0.Add(time.Minute)
	ev := newEvidence()
	want(t, s.ConfirmDevice(ctx, web.ID, store.DeviceActive, ev, at), nil, "ConfirmDevice")
	web.State, web.ActivatedAt, web.StateAt, web.Evidence = store.DeviceActive, at, at, ev
	active, err := s.ActiveDevices(ctx, u.ID)
	want(t, err, nil, "ActiveDevices")
	same(t, active, []*store.Device{web}, "ActiveDevices: the web device with its platform")
	at = at.Add(time.Minute)
	want(t, s.SetDeviceState(ctx, web.ID, store.DeviceActive, store.DeviceSuspended, at), nil, "SetDeviceState active -> suspended")
	web.State, web.StateAt = store.DeviceSuspended, at
	got, err := s.GetDevice(ctx, web.ID)
	want(t, err, nil, "GetDevice")
	same(t, got, web, "GetDevice of the suspended web device")
}

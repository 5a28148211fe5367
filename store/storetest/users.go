package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

func testUsers(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	client := newID(t, ids.Client)
	u := newUser(t, client)
	want(t, s.CreateUser(ctx, u), nil, "CreateUser")
	got, err := s.GetUser(ctx, u.ID)
	want(t, err, nil, "GetUser")
	same(t, got, u, "GetUser")

	dup := newUser(t, client)
	dup.ID = u.ID
	want(t, s.CreateUser(ctx, dup), store.ErrConflict, "CreateUser with an existing id")
	dup = newUser(t, client)
	dup.ExternalID = u.ExternalID
	want(t, s.CreateUser(ctx, dup), store.ErrConflict, "CreateUser with an existing (client, external id)")
	_, err = s.GetUser(ctx, dup.ID)
	want(t, err, store.ErrNotFound, "GetUser of the refused user")
	other := newUser(t, newID(t, ids.Client))
	other.ExternalID = u.ExternalID
	want(t, s.CreateUser(ctx, other), nil, "CreateUser with the same external id for another client")

	_, err = s.GetUser(ctx, newID(t, ids.User))
	want(t, err, store.ErrNotFound, "GetUser of an unknown id")

	got, err = s.UserByExternalID(ctx, client, u.ExternalID)
	want(t, err, nil, "UserByExternalID")
	same(t, got, u, "UserByExternalID")
	got, err = s.UserByExternalID(ctx, other.ClientID, u.ExternalID)
	want(t, err, nil, "UserByExternalID of the other client's user")
	same(t, got, other, "UserByExternalID of the other client's user")
	_, err = s.UserByExternalID(ctx, newID(t, ids.Client), u.ExternalID)
	want(t, err, store.ErrNotFound, "UserByExternalID for a client that created no such user")
	_, err = s.UserByExternalID(ctx, client, u.ExternalID+"x")
	want(t, err, store.ErrNotFound, "UserByExternalID of an unknown external id")
	_, err = s.UserByExternalID(ctx, client, "")
	want(t, err, store.ErrInvalid, "UserByExternalID of an empty external id")
	_, err = s.UserByExternalID(ctx, u.ID, u.ExternalID)
	want(t, err, store.ErrInvalid, "UserByExternalID with a user id as client id")

	for name, edit := range map[string]func(u *store.User){
		"client id":   func(u *store.User) { u.ClientID = newID(t, ids.User) },
		"external id": func(u *store.User) { u.ExternalID = "" },
		"share":       func(u *store.User) { u.ShareWrapped = nil },
		"bad UTF-8":   func(u *store.User) { u.DisplayName = "\xff" },
		"time":        func(u *store.User) { u.CreatedAt = time.Unix(-1, 0) },
	} {
		bad := newUser(t, client)
		edit(bad)
		want(t, s.CreateUser(ctx, bad), store.ErrInvalid, "CreateUser with a bad %s", name)
		_, err = s.GetUser(ctx, bad.ID)
		want(t, err, store.ErrNotFound, "GetUser of a user refused for its %s", name)
	}
	want(t, s.CreateUser(ctx, nil), store.ErrInvalid, "CreateUser(nil)")
}

func testEnrollments(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	e := &store.Enrollment{CodeHash: random(32), UserID: newID(t, ids.User), ExpiresAt: t0.Add(15 * time.Minute)}
	want(t, s.CreateEnrollment(ctx, e), nil, "CreateEnrollment")
	want(t, s.CreateEnrollment(ctx, &store.Enrollment{CodeHash: e.CodeHash, UserID: newID(t, ids.User), ExpiresAt: e.ExpiresAt}),
		store.ErrConflict, "CreateEnrollment with an existing code hash")

	// GetEnrollment reads without spending.
	got, err := s.GetEnrollment(ctx, e.CodeHash)
	want(t, err, nil, "GetEnrollment of an unused code")
	same(t, got, &store.Enrollment{CodeHash: e.CodeHash, UserID: e.UserID, ExpiresAt: e.ExpiresAt}, "GetEnrollment of an unused code")
	_, err = s.GetEnrollment(ctx, random(32))
	want(t, err, store.ErrNotFound, "GetEnrollment of an unknown code")
	_, err = s.GetEnrollment(ctx, random(31))
	want(t, err, store.ErrInvalid, "GetEnrollment of a 31-byte hash")

	// A refused use changes nothing: the code still works before its expiry.
	_, err = s.UseEnrollment(ctx, e.CodeHash, e.ExpiresAt)
	want(t, err, store.ErrExpired, "UseEnrollment at its expiry")
	_, err = s.UseEnrollment(ctx, e.CodeHash, e.ExpiresAt.Add(time.Hour))
	want(t, err, store.ErrExpired, "UseEnrollment after its expiry")
	used := e.ExpiresAt.Add(-time.Second)
	got, err = s.UseEnrollment(ctx, e.CodeHash, used)
	want(t, err, nil, "UseEnrollment just before its expiry")
	same(t, got, &store.Enrollment{CodeHash: e.CodeHash, UserID: e.UserID, ExpiresAt: e.ExpiresAt, UsedAt: used}, "UseEnrollment")
	got, err = s.GetEnrollment(ctx, e.CodeHash)
	want(t, err, nil, "GetEnrollment of a used code")
	same(t, got, &store.Enrollment{CodeHash: e.CodeHash, UserID: e.UserID, ExpiresAt: e.ExpiresAt, UsedAt: used}, "GetEnrollment of a used code")
	_, err = s.UseEnrollment(ctx, e.CodeHash, used)
	want(t, err, store.ErrConflict, "UseEnrollment a second time")
	_, err = s.UseEnrollment(ctx, e.CodeHash, e.ExpiresAt.Add(time.Hour))
	if !errorIsOneOf(err, store.ErrConflict, store.ErrExpired) {
		t.Fatalf("UseEnrollment of a used and expired code: err = %v, want ErrConflict or ErrExpired", err)
	}

	_, err = s.UseEnrollment(ctx, random(32), t0)
	want(t, err, store.ErrNotFound, "UseEnrollment of an unknown code")
	_, err = s.UseEnrollment(ctx, random(31), t0)
	want(t, err, store.ErrInvalid, "UseEnrollment of a 31-byte hash")
	_, err = s.UseEnrollment(ctx, random(32), time.Time{})
	want(t, err, store.ErrInvalid, "UseEnrollment without a time")

	for name, bad := range map[string]*store.Enrollment{
		"short hash": {CodeHash: random(16), UserID: newID(t, ids.User), ExpiresAt: t0},
		"user id":    {CodeHash: random(32), UserID: newID(t, ids.Device), ExpiresAt: t0},
		"no expiry":  {CodeHash: random(32), UserID: newID(t, ids.User)},
		"used":       {CodeHash: random(32), UserID: newID(t, ids.User), ExpiresAt: t0, UsedAt: t0},
		"nil":        nil,
	} {
		want(t, s.CreateEnrollment(ctx, bad), store.ErrInvalid, "CreateEnrollment with a bad %s", name)
		if bad != nil && len(bad.CodeHash) == 32 {
			_, err := s.UseEnrollment(ctx, bad.CodeHash, t0.Add(-time.Hour))
			want(t, err, store.ErrNotFound, "UseEnrollment of a code refused for its %s", name)
		}
	}
}

func testDevices(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	user := newID(t, ids.User)
	// Created in this order, activated in another: ActiveDevices lists by
	// creation.
	var devs []*store.Device
	for i := range 3 {
		d := newDevice(t, user, t0.Add(time.Duration(i)*time.Minute))
		want(t, s.CreateDevice(ctx, d), nil, "CreateDevice %d", i)
		devs = append(devs, d)
	}
	got, err := s.GetDevice(ctx, devs[0].ID)
	want(t, err, nil, "GetDevice")
	same(t, got, devs[0], "GetDevice")
	want(t, s.CreateDevice(ctx, devs[0]), store.ErrConflict, "CreateDevice with an existing id")
	other := newDevice(t, newID(t, ids.User), t0)
	want(t, s.CreateDevice(ctx, other), nil, "CreateDevice of another user")
	want(t, s.ConfirmDevice(ctx, other.ID, store.DeviceActive, newEvidence(), t0), nil, "ConfirmDevice of another user's device")

	active, err := s.ActiveDevices(ctx, user)
	want(t, err, nil, "ActiveDevices")
	if len(active) != 0 {
		t.Fatalf("ActiveDevices before activation: %d devices", len(active))
	}
	for _, i := range []int{2, 0} {
		at := t0.Add(time.Hour + time.Duration(i)*time.Second)
		ev := newEvidence()
		want(t, s.ConfirmDevice(ctx, devs[i].ID, store.DeviceActive, ev, at), nil, "ConfirmDevice %d", i)
		devs[i].State, devs[i].ActivatedAt, devs[i].StateAt, devs[i].Evidence = store.DeviceActive, at, at, ev
	}
	want(t, s.ConfirmDevice(ctx, devs[0].ID, store.DeviceActive, newEvidence(), t0.Add(2*time.Hour)), store.ErrConflict, "ConfirmDevice a second time")
	want(t, s.ConfirmDevice(ctx, newID(t, ids.Device), store.DeviceActive, newEvidence(), t0), store.ErrNotFound, "ConfirmDevice of an unknown id")
	got, err = s.GetDevice(ctx, devs[0].ID)
	want(t, err, nil, "GetDevice after activation")
	same(t, got, devs[0], "GetDevice after activation")
	active, err = s.ActiveDevices(ctx, user)
	want(t, err, nil, "ActiveDevices")
	same(t, active, []*store.Device{devs[0], devs[2]}, "ActiveDevices, oldest first, pending and other users' left out")
	active, err = s.ActiveDevices(ctx, newID(t, ids.User))
	want(t, err, nil, "ActiveDevices of a user without devices")
	if len(active) != 0 {
		t.Fatalf("ActiveDevices of a user without devices: %d", len(active))
	}
	_, err = s.GetDevice(ctx, newID(t, ids.Device))
	want(t, err, store.ErrNotFound, "GetDevice of an unknown id")

	active0 := newDevice(t, user, t0)
	active0.State, active0.ActivatedAt = store.DeviceActive, t0
	want(t, s.CreateDevice(ctx, active0), nil, "CreateDevice already active")
	want(t, s.ConfirmDevice(ctx, active0.ID, store.DeviceActive, newEvidence(), t0), store.ErrConflict, "ConfirmDevice of a device created active")

	for name, edit := range map[string]func(d *store.Device){
		"OPRF key":     func(d *store.Device) { d.OPRFPublicKey = d.OPRFPublicKey[:31] },
		"signing key":  func(d *store.Device) { d.SigningPublicKey = append(d.SigningPublicKey, 0) },
		"key id":       func(d *store.Device) { d.KeyID = "ABCDEF" },
		"state":        func(d *store.Device) { d.State = store.DeviceRevoked },
		"evidence":     func(d *store.Device) { d.Evidence = newEvidence() },
		"no state":     func(d *store.Device) { d.State = "" },
		"user id":      func(d *store.Device) { d.UserID = "" },
		"empty check":  func(d *store.Device) { d.CheckBlinded = [][]byte{{}} },
		"long name":    func(d *store.Device) { d.Name = string(make([]byte, store.MaxTextLen+1)) },
		"activated at": func(d *store.Device) { d.ActivatedAt = store.MaxTime },
	} {
		bad := newDevice(t, user, t0)
		edit(bad)
		want(t, s.CreateDevice(ctx, bad), store.ErrInvalid, "CreateDevice with a bad %s", name)
		_, err = s.GetDevice(ctx, bad.ID)
		want(t, err, store.ErrNotFound, "GetDevice of a device refused for its %s", name)
	}
	want(t, s.CreateDevice(ctx, nil), store.ErrInvalid, "CreateDevice(nil)")
	want(t, s.ConfirmDevice(ctx, devs[1].ID, store.DeviceActive, newEvidence(), time.Time{}), store.ErrInvalid, "ConfirmDevice without a time")
	want(t, s.ConfirmDevice(ctx, devs[1].ID, store.DeviceRevoked, newEvidence(), t0), store.ErrInvalid, "ConfirmDevice to revoked")
	want(t, s.ConfirmDevice(ctx, devs[1].ID, store.DeviceActive, store.DeviceEvidence{}, t0), store.ErrInvalid, "ConfirmDevice without evidence")
	half := newEvidence()
	half.AddStatement = random(100)
	want(t, s.ConfirmDevice(ctx, devs[1].ID, store.DeviceActive, half, t0), store.ErrInvalid, "ConfirmDevice with an add statement but no signature")
}

func testClients(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	c := newClient(t)
	want(t, s.CreateClient(ctx, c), nil, "CreateClient")
	got, err := s.ClientByPrefix(ctx, c.KeyPrefix)
	want(t, err, nil, "ClientByPrefix")
	same(t, got, c, "ClientByPrefix")

	dup := newClient(t)
	dup.ID = c.ID
	want(t, s.CreateClient(ctx, dup), store.ErrConflict, "CreateClient with an existing id")
	dup = newClient(t)
	dup.KeyPrefix = c.KeyPrefix
	want(t, s.CreateClient(ctx, dup), store.ErrConflict, "CreateClient with an existing prefix")
	noScopes := newClient(t)
	noScopes.Scopes = nil
	want(t, s.CreateClient(ctx, noScopes), nil, "CreateClient without scopes")
	got, err = s.ClientByPrefix(ctx, noScopes.KeyPrefix)
	want(t, err, nil, "ClientByPrefix")
	same(t, got, noScopes, "ClientByPrefix of a client without scopes")

	_, err = s.ClientByPrefix(ctx, "unknownprefix")
	want(t, err, store.ErrNotFound, "ClientByPrefix of an unknown prefix")
	for _, p := range []string{"", "a/b", "a b", string(make([]byte, 65))} {
		_, err = s.ClientByPrefix(ctx, p)
		want(t, err, store.ErrInvalid, "ClientByPrefix(%q)", p)
	}
	for name, edit := range map[string]func(c *store.Client){
		"id":       func(c *store.Client) { c.ID = newID(t, ids.User) },
		"prefix":   func(c *store.Client) { c.KeyPrefix = "has space" },
		"key hash": func(c *store.Client) { c.KeyHash = c.KeyHash[:16] },
		"scope":    func(c *store.Client) { c.Scopes = []string{""} },
	} {
		bad := newClient(t)
		edit(bad)
		want(t, s.CreateClient(ctx, bad), store.ErrInvalid, "CreateClient with a bad %s", name)
	}
	want(t, s.CreateClient(ctx, nil), store.ErrInvalid, "CreateClient(nil)")

	// Listing, oldest first, and revocation by deletion.
	later := newClient(t)
	later.CreatedAt = t0.Add(time.Second)
	want(t, s.CreateClient(ctx, later), nil, "CreateClient")
	list, err := s.Clients(ctx, 10)
	want(t, err, nil, "Clients")
	if len(list) != 3 || !slices.ContainsFunc(list[:2], func(x *store.Client) bool { return x.ID == c.ID }) ||
		!slices.ContainsFunc(list[:2], func(x *store.Client) bool { return x.ID == noScopes.ID }) {
		t.Fatalf("Clients: %d clients, want c, noScopes, later", len(list))
	}
	same(t, list[2], later, "Clients, the latest last")
	list, err = s.Clients(ctx, 1)
	want(t, err, nil, "Clients with limit 1")
	if len(list) != 1 || list[0].ID == later.ID {
		t.Fatalf("Clients with limit 1: %d clients", len(list))
	}
	_, err = s.Clients(ctx, 0)
	want(t, err, store.ErrInvalid, "Clients with limit 0")
	want(t, s.DeleteClient(ctx, c.ID), nil, "DeleteClient")
	_, err = s.ClientByPrefix(ctx, c.KeyPrefix)
	want(t, err, store.ErrNotFound, "ClientByPrefix of a deleted client")
	want(t, s.DeleteClient(ctx, c.ID), store.ErrNotFound, "DeleteClient a second time")
	want(t, s.DeleteClient(ctx, newID(t, ids.User)), store.ErrInvalid, "DeleteClient of a user id")
	list, err = s.Clients(ctx, 10)
	want(t, err, nil, "Clients after a deletion")
	if len(list) != 2 || slices.ContainsFunc(list, func(x *store.Client) bool { return x.ID == c.ID }) {
		t.Fatalf("Clients after deleting one: %d clients", len(list))
	}
	got, err = s.ClientByPrefix(ctx, later.KeyPrefix)
	want(t, err, nil, "ClientByPrefix of a client not deleted")
	same(t, got, later, "ClientByPrefix of a client not deleted")
}

func errorIsOneOf(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

package server

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/sqlite"
)

// unpin makes userID a user stored before keys were pinned: its devices
// stay, its pinned key is gone (as the schema migration leaves such users).
func unpin(t *testing.T, e *testEnv, userID string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(e.dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE users SET device_public_key = NULL, device_key_id = NULL WHERE id = ?`, userID); err != nil {
		t.Fatal(err)
	}
}

// A user stored before keys were pinned, whose only device the creating
// client suspends: the client must not be able to enroll a key of its own
// now. The key pinned is that of the oldest device ever confirmed, whatever
// its state.
func TestLegacyUserSuspendedThenFreshKey(t *testing.T) {
	e := newEnv(t, nil)
	phone := e.userWithDevice(t)
	unpin(t, e, phone.userID)
	e.do(http.MethodDelete, "/v1/users/"+phone.userID+"/devices/"+phone.id, e.admin, nil).want(t, http.StatusOK)

	intruder := newDeviceKeys(t, e)
	en := intruder.register(t, code(t, e, phone.userID))
	intruder.id, intruder.userID = en.DeviceID, en.UserID
	e.do(http.MethodPost, "/v1/device/enroll/confirm", "", intruder.confirmBody(t, en)).wantError(t, http.StatusConflict, "device_key_mismatch")

	u, err := e.st.GetUser(context.Background(), phone.userID)
	if err != nil {
		t.Fatal(err)
	}
	if u.DeviceKeyID != phone.keyID() {
		t.Fatalf("pinned key %q, want the phone's %q", u.DeviceKeyID, phone.keyID())
	}
}

// A device of a legacy user enrolled with another key (before pinning) may
// neither change the user's device set nor read requests addressed to the
// user's key.
func TestOtherKeyDeviceCannotActForUser(t *testing.T) {
	e := newEnv(t, nil)
	phone := e.userWithDevice(t)
	// Before pinning existed, a second key could become active for the
	// same user: here an active device of another user is moved over.
	legacy := e.userWithDevice(t)
	db, err := sql.Open("sqlite", filepath.Join(e.dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE devices SET user_id = ? WHERE id = ?`, phone.userID, legacy.id); err != nil {
		t.Fatal(err)
	}
	legacy.userID = phone.userID

	now := e.clock.Now()
	legacy.call(t, http.MethodPost, "/v1/device/devices/"+phone.id+"/revoke", revokeBody(t, legacy, phone.userID, phone.id, now)).
		wantError(t, http.StatusForbidden, "forbidden")
	rid := e.createRecord(t, phone.userID)
	p := e.upload(t, rid, []byte("for the user's key"))
	legacy.call(t, http.MethodGet, "/v1/device/requests/"+p.RequestID, nil).wantError(t, http.StatusNotFound, "not_found")
	phone.request(t, p.RequestID)
	d, err := e.st.GetDevice(context.Background(), phone.id)
	if err != nil || d.State != store.DeviceActive {
		t.Fatalf("phone after the other key's revocation: %v, %v", d, err)
	}
}

// A recovery past its waiting time becomes active only through a call its
// own key signed: forged headers naming its id change nothing.
func TestRecoveryRipensOnlyOnItsSignature(t *testing.T) {
	e := newEnv(t, nil)
	phone := e.userWithDevice(t)
	rec := sameKey(t, phone)
	rec.enrollAs(t, code(t, e, phone.userID), store.DeviceRecoveryPending)
	e.clock.Advance(RecoveryDelay + time.Minute)

	_, otherSK, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	forger := &testDevice{env: e, id: rec.id, userID: rec.userID, kD: rec.kD, sk: otherSK}
	forger.call(t, http.MethodGet, "/v1/device/requests?state=pending", nil).wantError(t, http.StatusUnauthorized, "unauthenticated")
	d, err := e.st.GetDevice(context.Background(), rec.id)
	if err != nil || d.State != store.DeviceRecoveryPending {
		t.Fatalf("after a forged call the recovery is %v (%v), want still pending", d.State, err)
	}
	rec.call(t, http.MethodGet, "/v1/device/requests?state=pending", nil).want(t, http.StatusOK)
}

// A client with neither users:admin nor records:access cannot tell an
// existing user id from an unknown one through the device list.
func TestDeviceListScopeBeforeLookup(t *testing.T) {
	e := newEnv(t, nil)
	phone := e.userWithDevice(t)
	missing := phone.userID[:len(phone.userID)-4] + "aaaa"
	if missing == phone.userID {
		missing = phone.userID[:len(phone.userID)-4] + "bbbb"
	}
	e.do(http.MethodGet, "/v1/users/"+missing+"/devices", e.reader, nil).wantError(t, http.StatusNotFound, "not_found")
	for _, uid := range []string{phone.userID, missing} {
		e.do(http.MethodGet, "/v1/users/"+uid+"/devices", e.writer, nil).wantError(t, http.StatusForbidden, "forbidden")
	}
}

// A device's open event stream ends when the device is suspended or
// revoked: it must stop hearing of its user's requests at once, not at
// its next reconnect.
func TestEndedDeviceLosesItsStream(t *testing.T) {
	e := newEnv(t, nil)
	for _, end := range []string{"suspend", "revoke"} {
		d := e.userWithDevice(t)
		res, err := e.ts.Client().Do(d.signed(t, http.MethodGet, "/v1/device/events", nil, e.clock.Now(), newNonce(t)))
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: event stream status %d", end, res.StatusCode)
		}
		ended := make(chan error, 1)
		go func() { _, err := io.Copy(io.Discard, res.Body); ended <- err }()
		endDevice(t, e, d, end)
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: the device's event stream is still open", end)
		}
		res.Body.Close()
	}
}

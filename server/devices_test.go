package server

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/threshold"
)

// sameKey is a second device holding d's kD (rebuilt from a recovery kit)
// with its own signing key.
func sameKey(t *testing.T, d *testDevice) *testDevice {
	t.Helper()
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testDevice{env: d.env, kD: d.kD, sk: sk}
}

// activeSameKey enrolls a second device with d's kD (a recovery, since d
// is active) and lets its delay pass: an active device of d's user with a
// signing key of its own.
func activeSameKey(t *testing.T, e *testEnv, d *testDevice) *testDevice {
	t.Helper()
	second := sameKey(t, d)
	second.enrollAs(t, code(t, e, d.userID), "recovery_pending")
	e.clock.Advance(RecoveryDelay + time.Second)
	second.call(t, http.MethodGet, api.PendingRequestsTarget, nil).want(t, http.StatusOK)
	return second
}

// endDevice suspends d (as the admin client) or has it revoke itself.
func endDevice(t *testing.T, e *testEnv, d *testDevice, end string) {
	t.Helper()
	if end == "suspend" {
		e.do(http.MethodDelete, "/v1/users/"+d.userID+"/devices/"+d.id, e.admin, nil).want(t, http.StatusOK)
		return
	}
	d.call(t, http.MethodPost, "/v1/device/devices/"+d.id+"/revoke", revokeBody(t, d, d.userID, d.id, e.clock.Now())).want(t, http.StatusOK)
}

// code is a new enrollment code for d's user.
func code(t *testing.T, e *testEnv, userID string) string {
	t.Helper()
	var u wireUser
	e.do(http.MethodPost, "/v1/users/"+userID+"/enrollment", e.admin, nil).want(t, http.StatusCreated).decode(t, &u)
	return u.EnrollmentCode
}

func revokeBody(t *testing.T, by *testDevice, userID, target string, at time.Time) map[string]any {
	t.Helper()
	stmt, err := threshold.RevokeStatement(userID, target, at)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"at": at, "signature": threshold.Sign(by.sk, stmt)}
}

// A recovery while a device is active waits RecoveryDelay and then is
// active from its first call; one that is cancelled never is.
func TestRecoveryDelay(t *testing.T) {
	e := newEnv(t, nil)
	phone := e.userWithDevice(t)
	rec := sameKey(t, phone)
	rec.enrollAs(t, code(t, e, phone.userID), "recovery_pending")
	rec.call(t, http.MethodGet, "/v1/device/requests?state=pending", nil).wantError(t, http.StatusUnauthorized, "unauthenticated")
	e.clock.Advance(RecoveryDelay - time.Minute)
	rec.call(t, http.MethodGet, "/v1/device/requests?state=pending", nil).wantError(t, http.StatusUnauthorized, "unauthenticated")
	e.clock.Advance(2 * time.Minute)
	rec.call(t, http.MethodGet, "/v1/device/requests?state=pending", nil).want(t, http.StatusOK)
	// Too late to cancel now.
	phone.call(t, http.MethodPost, "/v1/device/devices/"+rec.id+"/cancel", nil).wantError(t, http.StatusConflict, "conflict")

	cancelled := sameKey(t, phone)
	cancelled.enrollAs(t, code(t, e, phone.userID), "recovery_pending")
	phone.call(t, http.MethodPost, "/v1/device/devices/"+cancelled.id+"/cancel", nil).want(t, http.StatusOK)
	e.clock.Advance(RecoveryDelay + time.Minute)
	cancelled.call(t, http.MethodGet, "/v1/device/requests?state=pending", nil).wantError(t, http.StatusUnauthorized, "unauthenticated")

	// Another user's device cannot cancel, nor see the device.
	stranger := e.userWithDevice(t)
	again := sameKey(t, phone)
	again.enrollAs(t, code(t, e, phone.userID), "recovery_pending")
	stranger.call(t, http.MethodPost, "/v1/device/devices/"+again.id+"/cancel", nil).wantError(t, http.StatusNotFound, "not_found")
}

func TestRevokeBadPaths(t *testing.T) {
	e := newEnv(t, nil)
	phone := e.userWithDevice(t)
	stranger := e.userWithDevice(t)
	now := e.clock.Now()
	path := "/v1/device/devices/" + phone.id + "/revoke"

	// Signed by another key than the calling device's.
	forged := revokeBody(t, stranger, phone.userID, phone.id, now)
	phone.call(t, http.MethodPost, path, forged).wantError(t, http.StatusUnauthorized, "unauthenticated")
	// A statement for another device does not revoke this one.
	other := revokeBody(t, phone, phone.userID, stranger.id, now)
	phone.call(t, http.MethodPost, path, other).wantError(t, http.StatusUnauthorized, "unauthenticated")
	// An old statement.
	old := revokeBody(t, phone, phone.userID, phone.id, now.Add(-time.Hour))
	phone.call(t, http.MethodPost, path, old).wantError(t, http.StatusBadRequest, "bad_request")
	// Another user's device.
	stranger.call(t, http.MethodPost, path, revokeBody(t, stranger, stranger.userID, phone.id, now)).wantError(t, http.StatusNotFound, "not_found")
	phone.call(t, http.MethodGet, "/v1/device/requests?state=pending", nil).want(t, http.StatusOK)

	// A device revokes itself: at once refused.
	phone.call(t, http.MethodPost, path, revokeBody(t, phone, phone.userID, phone.id, now)).want(t, http.StatusOK)
	phone.call(t, http.MethodGet, "/v1/device/requests?state=pending", nil).wantError(t, http.StatusUnauthorized, "unauthenticated")
	// The key stays pinned: a fresh key is still refused, the user's key recovers.
	fresh := newDeviceKeys(t, e)
	en := fresh.register(t, code(t, e, phone.userID))
	e.do(http.MethodPost, "/v1/device/enroll/confirm", "", fresh.confirmBody(t, en)).wantError(t, http.StatusConflict, "device_key_mismatch")
	sameKey(t, phone).enrollAs(t, code(t, e, phone.userID), "active")
}

func TestSuspendAndDeviceList(t *testing.T) {
	e := newEnv(t, nil)
	phone := e.userWithDevice(t)
	second := sameKey(t, phone)
	second.enrollAs(t, code(t, e, phone.userID), "recovery_pending")
	path := "/v1/users/" + phone.userID + "/devices/" + phone.id

	otherAdmin := e.client("other admin", ScopeUsersAdmin)
	e.do(http.MethodDelete, path, otherAdmin, nil).wantError(t, http.StatusForbidden, "forbidden")
	e.do(http.MethodDelete, path, e.writer, nil).wantError(t, http.StatusForbidden, "forbidden")
	e.do(http.MethodDelete, "/v1/users/"+phone.userID+"/devices/dev_aaaaaaaaaaaaaaaaaaaaaaaaaa", e.admin, nil).wantError(t, http.StatusNotFound, "not_found")
	e.do(http.MethodDelete, path, e.admin, nil).want(t, http.StatusOK)
	e.do(http.MethodDelete, path, e.admin, nil).wantError(t, http.StatusConflict, "conflict")
	phone.call(t, http.MethodGet, "/v1/device/requests?state=pending", nil).wantError(t, http.StatusUnauthorized, "unauthenticated")

	var list api.DeviceList
	e.do(http.MethodGet, "/v1/users/"+phone.userID+"/devices", e.writer, nil).wantError(t, http.StatusForbidden, "forbidden")
	e.do(http.MethodGet, "/v1/users/"+phone.userID+"/devices", otherAdmin, nil).wantError(t, http.StatusForbidden, "forbidden")
	e.do(http.MethodGet, "/v1/users/"+phone.userID+"/devices", e.reader, nil).want(t, http.StatusOK).decode(t, &list)
	if list.UserKeyID != phone.keyID() || len(list.Devices) != 2 {
		t.Fatalf("device list: key %s, %d devices; want %s and 2", list.UserKeyID, len(list.Devices), phone.keyID())
	}
	for i, want := range []struct {
		d     *testDevice
		state string
	}{{phone, "suspended"}, {second, "recovery_pending"}} {
		got := list.Devices[i]
		if got.DeviceID != want.d.id || got.State != want.state || got.Evidence == nil {
			t.Fatalf("device %d: %s %s, want %s %s with evidence", i, got.DeviceID, got.State, want.d.id, want.state)
		}
		ev := got.Evidence
		info, _ := threshold.EnrollCheckInfo(phone.userID, got.DeviceID, got.SigningPublicKey)
		pk := want.d.kD.Public()
		if err := verifyProof(pk.Bytes(), info, ev.BlindedElements, ev.EvaluatedElements, ev.Proof); err != nil {
			t.Errorf("device %d: the listed proof does not verify: %v", i, err)
		}
		if threshold.Verify(got.SigningPublicKey, ev.EnrollStatement, ev.EnrollSignature) != nil {
			t.Errorf("device %d: the listed enrollment signature does not verify", i)
		}
	}
}

package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/store"
)

// enrollBody is d's enrollment body with code, and platform unless nil
// (sent as given, whatever its JSON type).
func enrollBody(d *testDevice, code string, platform any) map[string]any {
	b := map[string]any{
		"enrollment_code": code, "device_name": "test phone",
		"oprf_public_key": d.kD.Public().Bytes(), "signing_public_key": d.signPub(),
	}
	if platform != nil {
		b["platform"] = platform
	}
	return b
}

// TestDevicePlatform: a device enrolls as web, agent (by transfer) or
// without a platform, and the device list, the user's device summaries and
// the device_enrolled audit entries give each its own; a platform the API
// does not know is refused with 400 before the code is spent, for a plain
// and a transfer enrollment alike.
func TestDevicePlatform(t *testing.T) {
	e := newEnv(t, nil)
	u := e.newUser(t)
	phone := newDeviceKeys(t, e)
	bad := []any{"unknown", "Agent", "WEB", "ios", " web", "web ", "web\u0000", "agent,web", 1, true, []string{"web"}, map[string]string{"web": "web"}}
	for _, p := range bad {
		r := e.do(http.MethodPost, api.PathDeviceEnroll, "", enrollBody(phone, u.EnrollmentCode, p))
		r.wantError(t, http.StatusBadRequest, "bad_request")
		if s, ok := p.(string); ok && !strings.Contains(string(r.body), "platform") {
			t.Errorf("platform %q refused with %s, which does not name the field", s, r.body)
		}
	}
	// The code was not spent by the refusals: the phone enrolls with it as
	// web and confirms.
	var en api.EnrollAnswer
	e.do(http.MethodPost, api.PathDeviceEnroll, "", enrollBody(phone, u.EnrollmentCode, api.PlatformWeb)).want(t, http.StatusCreated).decode(t, &en)
	phone.id, phone.userID = en.DeviceID, en.UserID
	var st api.ConfirmAnswer
	e.do(http.MethodPost, api.PathDeviceEnroll+"/confirm", "", phone.confirmBody(t, en)).want(t, http.StatusOK).decode(t, &st)
	if st.State != api.DeviceActive {
		t.Fatalf("the web phone's confirmation: %+v", st)
	}

	// A device with the phone's key from a recovery kit, saying no
	// platform (as devices enrolled before platforms did).
	recovered := sameKey(t, phone)
	e.do(http.MethodPost, api.PathDeviceEnroll, "", enrollBody(recovered, code(t, e, phone.userID), nil)).want(t, http.StatusCreated).decode(t, &en)
	recovered.id, recovered.userID = en.DeviceID, en.UserID
	e.do(http.MethodPost, api.PathDeviceEnroll+"/confirm", "", recovered.confirmBody(t, en)).want(t, http.StatusOK).decode(t, &st)
	if st.State != api.DeviceRecoveryPending {
		t.Fatalf("the recovered device's confirmation: %+v", st)
	}

	// A device added by transfer, as agent; a bad platform first, which
	// leaves its code unspent too.
	added := newDeviceKeys(t, e)
	transferCode := code(t, e, phone.userID)
	transfer := func(platform string) *resp {
		return e.do(http.MethodPost, api.PathDeviceEnroll, "", map[string]any{
			"enrollment_code": transferCode, "device_name": "laptop", "signing_public_key": added.signPub(),
			"transfer": true, "platform": platform,
		})
	}
	transfer("tablet").wantError(t, http.StatusBadRequest, "bad_request")
	var ten api.EnrollAnswer
	transfer(api.PlatformAgent).want(t, http.StatusAccepted).decode(t, &ten)
	if ten.State != api.DeviceAwaitingTransfer {
		t.Fatalf("transfer enrollment: %+v", ten)
	}
	added.id = ten.DeviceID

	wantPlatform := map[string]string{phone.id: api.PlatformWeb, recovered.id: "", added.id: api.PlatformAgent}
	var list api.DeviceList
	r := e.do(http.MethodGet, "/v1/users/"+phone.userID+"/devices", e.reader, nil).want(t, http.StatusOK)
	r.decode(t, &list)
	if len(list.Devices) != len(wantPlatform) {
		t.Fatalf("device list has %d devices, want %d: %s", len(list.Devices), len(wantPlatform), r.body)
	}
	for _, d := range list.Devices {
		w, ok := wantPlatform[d.DeviceID]
		if !ok || d.Platform != w {
			t.Errorf("device list: %s has platform %q, want %q", d.DeviceID, d.Platform, w)
		}
	}
	if strings.Contains(string(r.body), `"platform":""`) {
		t.Errorf("device list sends an empty platform instead of none: %s", r.body)
	}

	var user api.User
	e.do(http.MethodGet, api.UserPath(phone.userID), e.admin, nil).want(t, http.StatusOK).decode(t, &user)
	if len(user.Devices) != 1 || user.Devices[0].DeviceID != phone.id || user.Devices[0].Platform != api.PlatformWeb {
		t.Fatalf("user's device summaries %+v, want the web phone alone", user.Devices)
	}

	// Each device_enrolled entry names the device's platform.
	entries, err := e.st.AuditEntries(t.Context(), phone.userID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, en := range entries {
		if en.Event != store.EventDeviceEnrolled {
			continue
		}
		var d struct {
			Platform string `json:"platform"`
		}
		if err := json.Unmarshal(en.Details, &d); err != nil {
			t.Fatalf("device_enrolled details %s: %v", en.Details, err)
		}
		if w, ok := wantPlatform[en.Subject]; !ok || d.Platform != w {
			t.Errorf("device_enrolled of %s: platform %q, want %q", en.Subject, d.Platform, w)
		}
		seen[en.Subject] = true
	}
	if len(seen) != len(wantPlatform) {
		t.Errorf("device_enrolled entries for %d devices, want %d", len(seen), len(wantPlatform))
	}
}

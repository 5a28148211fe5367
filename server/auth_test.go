package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

func TestClientAuth(t *testing.T) {
	e := newEnv(t, nil)
	body := map[string]string{"external_id": "x", "display_name": "X"}
	wrongSecret := e.admin[:len(e.admin)-4] + "aaaa"
	if wrongSecret == e.admin {
		wrongSecret = e.admin[:len(e.admin)-4] + "bbbb"
	}
	for _, tc := range []struct {
		name, header string
	}{
		{"none", ""},
		{"not bearer", "Basic " + e.admin},
		{"garbage", "Bearer nonsense"},
		{"unknown prefix", "Bearer assent_aaaaaaaaaaaa_" + strings.Repeat("a", apiKeySecretLen)},
		{"wrong secret", "Bearer " + wrongSecret},
		{"upper case", "Bearer " + strings.ToUpper(e.admin)},
		{"two keys", "Bearer " + e.admin + " " + e.admin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/v1/users", strings.NewReader(`{"external_id":"x","display_name":"X"}`))
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			r := e.send(req)
			r.wantError(t, http.StatusUnauthorized, "unauthenticated")
			if !strings.Contains(string(r.body), msgUnauthenticated) {
				t.Errorf("401 body %s is not the one opaque message", r.body)
			}
		})
	}
	// A valid key without the scope.
	e.do(http.MethodPost, "/v1/users", e.writer, body).wantError(t, http.StatusForbidden, "forbidden")
	e.do(http.MethodPost, "/v1/users", e.admin, body).want(t, http.StatusCreated)
	// The same external id for the same client is a conflict.
	e.do(http.MethodPost, "/v1/users", e.admin, body).wantError(t, http.StatusConflict, "conflict")
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, nil)
	u := e.newUser(t)
	for _, tc := range []struct {
		name, method, path, key string
		body                    any
		status                  int
		code                    string
	}{
		{"malformed user id", "POST", "/v1/users/usr_x/records", e.writer, `{"title":"t","content_type":"text/plain"}`, 400, "invalid_id"},
		{"user id of another kind", "POST", "/v1/users/" + strings.Replace(u.UserID, "usr_", "dev_", 1) + "/records", e.writer, `{"title":"t","content_type":"text/plain"}`, 400, "invalid_id"},
		{"malformed record id", "GET", "/v1/records/123", e.writer, nil, 400, "invalid_id"},
		{"uuid v4 record id", "GET", "/v1/records/0b7e0e2e-6d1c-4b8f-9a3e-2f1e4c5d6a7b", e.writer, nil, 400, "invalid_id"},
		{"malformed session id", "GET", "/v1/sessions/ses_", e.reader, nil, 400, "invalid_id"},
		{"unknown record", "GET", "/v1/records/01890a5d-ac96-774b-bcce-b302099a8057", e.writer, nil, 404, "not_found"},
		{"unknown user", "POST", "/v1/users/usr_aaaaaaaaaaaaaaaaaaaaaaaaaa/records", e.writer, `{"title":"t","content_type":"text/plain"}`, 404, "not_found"},
		{"unknown field", "POST", "/v1/users", e.admin, `{"external_id":"a","display_name":"b","admin":true}`, 400, "bad_request"},
		{"trailing data", "POST", "/v1/users", e.admin, `{"external_id":"a","display_name":"b"} {}`, 400, "bad_request"},
		{"trailing garbage", "POST", "/v1/users", e.admin, `{"external_id":"a","display_name":"b"}x`, 400, "bad_request"},
		{"not JSON", "POST", "/v1/users", e.admin, `external_id=a`, 400, "bad_request"},
		{"empty body", "POST", "/v1/users", e.admin, ``, 400, "bad_request"},
		{"array", "POST", "/v1/users", e.admin, `[]`, 400, "bad_request"},
		{"wrong type", "POST", "/v1/users", e.admin, `{"external_id":5}`, 400, "bad_request"},
		{"missing field", "POST", "/v1/users", e.admin, `{"display_name":"b"}`, 400, "bad_request"},
		{"control character", "POST", "/v1/users", e.admin, `{"external_id":"a\u0007"}`, 400, "bad_request"},
		{"too long", "POST", "/v1/users", e.admin, `{"external_id":"` + strings.Repeat("a", 1025) + `"}`, 400, "bad_request"},
		{"oversize body", "POST", "/v1/users", e.admin, `{"external_id":"` + strings.Repeat("a", maxJSONBody) + `"}`, 413, "too_large"},
		{"bad content type", "POST", "/v1/users/" + u.UserID + "/records", e.writer, `{"title":"t","content_type":"not a type"}`, 400, "bad_request"},
		{"bad wait", "GET", "/v1/records/01890a5d-ac96-774b-bcce-b302099a8057?wait=x", e.writer, nil, 400, "bad_request"},
		{"unknown route", "GET", "/v1/nothing", e.writer, nil, 404, "not_found"},
		{"wrong method", "DELETE", "/v1/users", e.admin, nil, 405, "method_not_allowed"},
		{"bad audit limit", "GET", "/v1/users/" + u.UserID + "/audit?limit=0", e.admin, nil, 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.do(tc.method, tc.path, tc.key, tc.body).wantError(t, tc.status, tc.code)
		})
	}
	// An oversize body sent without a Content-Length is cut off while read.
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/v1/users", chunked(`{"external_id":"`+strings.Repeat("a", 2*maxJSONBody)+`"}`))
	req.Header.Set("Authorization", "Bearer "+e.admin)
	e.send(req).wantError(t, http.StatusRequestEntityTooLarge, "too_large")

	// Every response carries a request id, also errors, and the log line
	// about it names it.
	r := e.do(http.MethodGet, "/v1/records/123", e.writer, nil)
	id := r.header.Get(HeaderRequestID)
	if len(id) != 16 || !strings.Contains(e.logs.String(), `"request_id":"`+id+`"`) {
		t.Errorf("request id %q missing from the response or the log", id)
	}
}

// chunked hides the length of s, so the body is sent chunked.
func chunked(s string) *onlyReader { return &onlyReader{r: strings.NewReader(s)} }

type onlyReader struct{ r *strings.Reader }

func (o *onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestOtherClientsUser(t *testing.T) {
	e := newEnv(t, nil)
	u := e.newUser(t)
	otherAdmin := e.client("other admin", ScopeUsersAdmin)
	e.do(http.MethodPost, "/v1/users/"+u.UserID+"/enrollment", otherAdmin, nil).wantError(t, http.StatusForbidden, "forbidden")
	e.do(http.MethodGet, "/v1/users/"+u.UserID+"/audit", otherAdmin, nil).wantError(t, http.StatusForbidden, "forbidden")
	var again wireUser
	e.do(http.MethodPost, "/v1/users/"+u.UserID+"/enrollment", e.admin, nil).want(t, http.StatusCreated).decode(t, &again)
	if again.UserID != u.UserID || again.EnrollmentCode == u.EnrollmentCode || len(again.EnrollmentCode) != 23 {
		t.Errorf("second enrollment %+v", again)
	}
}

func TestEnrollment(t *testing.T) {
	e := newEnv(t, nil)
	u := e.newUser(t)
	if len(u.EnrollmentCode) != 23 || strings.Count(u.EnrollmentCode, "-") != 3 ||
		!u.EnrollmentExpiresAt.Equal(e.clock.Now().Add(EnrollmentTTL)) {
		t.Fatalf("enrollment %+v", u)
	}
	d := newDeviceKeys(t, e)

	// Bad keys are refused before the code is spent (the identity element
	// is no public key).
	e.do(http.MethodPost, "/v1/device/enroll", "", map[string]any{
		"enrollment_code": u.EnrollmentCode, "device_name": "p",
		"oprf_public_key": make([]byte, 32), "signing_public_key": d.signPub(),
	}).wantError(t, http.StatusBadRequest, "bad_request")
	e.do(http.MethodPost, "/v1/device/enroll", "", map[string]any{
		"enrollment_code": u.EnrollmentCode, "device_name": "p",
		"oprf_public_key": d.kD.Public().Bytes(), "signing_public_key": d.signPub()[:31],
	}).wantError(t, http.StatusBadRequest, "bad_request")
	d.startEnroll(u.EnrollmentCode).want(t, http.StatusCreated)
	// The code is single use.
	d.startEnroll(u.EnrollmentCode).wantError(t, http.StatusGone, "gone")
	d.startEnroll("AAAAA-AAAAA-AAAAA-AAAAA").wantError(t, http.StatusUnauthorized, "unauthenticated")
	d.startEnroll("not a code").wantError(t, http.StatusUnauthorized, "unauthenticated")

	// A code typed in lower case without dashes works; confirmations that
	// fail leave the device pending.
	var fresh wireUser
	e.do(http.MethodPost, "/v1/users/"+u.UserID+"/enrollment", e.admin, nil).want(t, http.StatusCreated).decode(t, &fresh)
	typed := strings.ToLower(strings.ReplaceAll(fresh.EnrollmentCode, "-", " "))
	var en wireEnroll
	d.startEnroll(typed).want(t, http.StatusCreated).decode(t, &en)
	if en.UserID != u.UserID || len(en.BlindedElements) != 1 {
		t.Fatalf("enroll answer %+v", en)
	}
	good := d.confirmBody(t, en)

	forged := d.confirmBody(t, en)
	forged["signature"] = bytes.Repeat([]byte{1}, 64)
	e.do(http.MethodPost, "/v1/device/enroll/confirm", "", forged).wantError(t, http.StatusUnauthorized, "unauthenticated")

	badProof := d.confirmBody(t, en)
	p := bytes.Clone(badProof["proof"].([]byte))
	p[0] ^= 1
	badProof["proof"] = p
	e.do(http.MethodPost, "/v1/device/enroll/confirm", "", badProof).wantError(t, http.StatusBadRequest, "bad_proof")

	// An evaluation by another key does not prove possession of pkD.
	impostor := newDeviceKeys(t, e)
	info, _ := threshold.EnrollCheckInfo(en.UserID, en.DeviceID, d.signPub())
	ev, pr, err := impostor.kD.EvaluatePOPRF(rand.Reader, en.BlindedElements, info)
	if err != nil {
		t.Fatal(err)
	}
	wrongKey := d.confirmBody(t, en)
	wrongKey["evaluated_elements"], wrongKey["proof"] = ev, pr
	e.do(http.MethodPost, "/v1/device/enroll/confirm", "", wrongKey).wantError(t, http.StatusBadRequest, "bad_proof")

	unknown := d.confirmBody(t, en)
	unknown["device_id"] = "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	e.do(http.MethodPost, "/v1/device/enroll/confirm", "", unknown).wantError(t, http.StatusUnauthorized, "unauthenticated")

	// A pending device cannot sign calls.
	d.id, d.userID = en.DeviceID, en.UserID
	d.call(t, http.MethodGet, "/v1/device/requests?state=pending", nil).wantError(t, http.StatusUnauthorized, "unauthenticated")

	e.do(http.MethodPost, "/v1/device/enroll/confirm", "", good).want(t, http.StatusOK)
	e.do(http.MethodPost, "/v1/device/enroll/confirm", "", good).wantError(t, http.StatusConflict, "conflict")
	d.call(t, http.MethodGet, "/v1/device/requests?state=pending", nil).want(t, http.StatusOK)

	// Codes expire.
	var late wireUser
	e.do(http.MethodPost, "/v1/users/"+u.UserID+"/enrollment", e.admin, nil).want(t, http.StatusCreated).decode(t, &late)
	e.clock.Advance(EnrollmentTTL)
	newDeviceKeys(t, e).startEnroll(late.EnrollmentCode).wantError(t, http.StatusGone, "expired")

	// So does an unconfirmed enrollment.
	var slow wireUser
	e.do(http.MethodPost, "/v1/users/"+u.UserID+"/enrollment", e.admin, nil).want(t, http.StatusCreated).decode(t, &slow)
	d2 := newDeviceKeys(t, e)
	var en2 wireEnroll
	d2.startEnroll(slow.EnrollmentCode).want(t, http.StatusCreated).decode(t, &en2)
	e.clock.Advance(EnrollmentTTL + time.Second)
	e.do(http.MethodPost, "/v1/device/enroll/confirm", "", d2.confirmBody(t, en2)).wantError(t, http.StatusGone, "expired")
}

// outageStore fails CreateDevice the given number of times, as a store
// briefly unavailable would; with lostReply, the first failure comes after
// the insert.
type outageStore struct {
	store.Store
	fails     atomic.Int32
	lostReply atomic.Bool
}

func (s *outageStore) CreateDevice(ctx context.Context, d *store.Device) error {
	if s.lostReply.CompareAndSwap(true, false) {
		if err := s.Store.CreateDevice(ctx, d); err != nil {
			return err
		}
		return fmt.Errorf("%w: test outage after the insert", store.ErrUnavailable)
	}
	if s.fails.Add(-1) >= 0 {
		return fmt.Errorf("%w: test outage", store.ErrUnavailable)
	}
	return s.Store.CreateDevice(ctx, d)
}

// TestEnrollStoreBlip: a store failure while the device is registered does
// not waste the single-use code on a brief outage: the enrollment goes
// through. A longer outage is 503 and says a new code is needed.
func TestEnrollStoreBlip(t *testing.T) {
	outage := &outageStore{}
	e := newEnv(t, nil, func(d *Deps) {
		outage.Store = d.Store
		d.Store = outage
	})
	u := e.newUser(t)
	d := newDeviceKeys(t, e)
	outage.fails.Store(1)
	d.enroll(t, u.EnrollmentCode)
	// Another user, since a second device of u with a fresh key is refused.
	again := e.newUser(t)
	outage.lostReply.Store(true)
	newDeviceKeys(t, e).enroll(t, again.EnrollmentCode)

	var fresh wireUser
	e.do(http.MethodPost, "/v1/users/"+u.UserID+"/enrollment", e.admin, nil).want(t, http.StatusCreated).decode(t, &fresh)
	outage.fails.Store(1000)
	r := newDeviceKeys(t, e).startEnroll(fresh.EnrollmentCode)
	outage.fails.Store(0)
	r.wantError(t, http.StatusServiceUnavailable, "unavailable")
	if !strings.Contains(string(r.body), "new enrollment code") {
		t.Errorf("the 503 does not say the code is spent: %s", r.body)
	}
}

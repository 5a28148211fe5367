package server

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/threshold"
)

// The wire shapes are the api package's, which the golden bodies in
// api/testdata hold to what the server answers.
type (
	wireUser        = api.Enrollment
	wireEnroll      = api.EnrollAnswer
	wireDeviceState = api.ConfirmAnswer
	wireRecordState = api.CreatedRecord
	wirePending     = api.Pending
	wireRecord      = api.Record
	wireSession     = api.Session
	wireRequest     = api.DeviceRequest
	wireAnswer      = api.DeviceResponse
	wireAudit       = api.AuditEntry
)

// testDevice is a minimal device for the tests: a POPRF key, a signing key,
// and signed calls. The real agent (device/) is tested against the server
// elsewhere.
type testDevice struct {
	env    *testEnv
	id     string
	userID string
	kD     *oprf.PrivateKey
	sk     ed25519.PrivateKey
}

// newDeviceKeys makes a device's keys without enrolling it.
func newDeviceKeys(t testing.TB, e *testEnv) *testDevice {
	t.Helper()
	kD, err := oprf.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testDevice{env: e, kD: kD, sk: sk}
}

func (d *testDevice) signPub() []byte { return d.sk.Public().(ed25519.PublicKey) }

// keyID is the device_key_id of d's POPRF key.
func (d *testDevice) keyID() string { return threshold.DeviceKeyID(d.kD.Public().Bytes()) }

// startEnroll sends POST /v1/device/enroll.
func (d *testDevice) startEnroll(code string) *resp {
	return d.env.do(http.MethodPost, "/v1/device/enroll", "", map[string]any{
		"enrollment_code":    code,
		"device_name":        "test phone",
		"oprf_public_key":    d.kD.Public().Bytes(),
		"signing_public_key": d.signPub(),
	})
}

// confirmBody is a correct confirmation of the enrollment check.
func (d *testDevice) confirmBody(t testing.TB, en wireEnroll) map[string]any {
	t.Helper()
	info, err := threshold.EnrollCheckInfo(en.UserID, en.DeviceID, d.signPub())
	if err != nil {
		t.Fatal(err)
	}
	evaluated, proof, err := d.kD.EvaluatePOPRF(rand.Reader, en.BlindedElements, info)
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := threshold.EnrollStatement(en.UserID, en.DeviceID, d.kD.Public().Bytes(), d.signPub(), en.BlindedElements)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{
		"device_id":          en.DeviceID,
		"evaluated_elements": evaluated,
		"proof":              proof,
		"signature":          threshold.Sign(d.sk, stmt),
	}
}

// enroll enrolls d with code and confirms it.
func (d *testDevice) enroll(t testing.TB, code string) {
	t.Helper()
	d.enrollAs(t, code, "active")
}

// enrollAs enrolls d with code and confirms it, the confirmation ending in
// state.
func (d *testDevice) enrollAs(t testing.TB, code, state string) {
	t.Helper()
	en := d.register(t, code)
	var st wireDeviceState
	d.env.do(http.MethodPost, "/v1/device/enroll/confirm", "", d.confirmBody(t, en)).want(t, http.StatusOK).decode(t, &st)
	if st.State != state || st.DeviceID != en.DeviceID || st.UserID != en.UserID {
		t.Fatalf("confirmation %+v, want state %s", st, state)
	}
}

// register sends POST /v1/device/enroll with code, wants 201 and keeps the
// ids it gets.
func (d *testDevice) register(t testing.TB, code string) wireEnroll {
	t.Helper()
	var en wireEnroll
	d.startEnroll(code).want(t, http.StatusCreated).decode(t, &en)
	d.id, d.userID = en.DeviceID, en.UserID
	return en
}

// signed builds a device call with explicit timestamp and nonce.
func (d *testDevice) signed(t testing.TB, method, target string, body []byte, ts time.Time, nonce string) *http.Request {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, d.env.ts.URL+target, rd)
	if err != nil {
		t.Fatal(err)
	}
	tsv := strconv.FormatInt(ts.Unix(), 10)
	msg := threshold.DeviceAuthMessage(method, target, tsv, nonce, body)
	req.Header.Set(HeaderDevice, d.id)
	req.Header.Set(HeaderTimestamp, tsv)
	req.Header.Set(HeaderNonce, nonce)
	req.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(threshold.Sign(d.sk, msg)))
	return req
}

func newNonce(t testing.TB) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

// call sends a correctly signed device call; body is JSON-encoded if not
// nil.
func (d *testDevice) call(t testing.TB, method, target string, body any) *resp {
	t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	return d.env.send(d.signed(t, method, target, b, d.env.clock.Now(), newNonce(t)))
}

// pending lists the device's pending requests.
func (d *testDevice) pending(t testing.TB) []wireRequest {
	t.Helper()
	var list struct {
		Requests []wireRequest `json:"requests"`
	}
	d.call(t, http.MethodGet, "/v1/device/requests?state=pending", nil).want(t, http.StatusOK).decode(t, &list)
	return list.Requests
}

// request fetches one request.
func (d *testDevice) request(t testing.TB, id string) wireRequest {
	t.Helper()
	var q wireRequest
	d.call(t, http.MethodGet, "/v1/device/requests/"+id, nil).want(t, http.StatusOK).decode(t, &q)
	return q
}

// statement builds the approval statement of q as a device does, from the
// request it was shown.
func statement(t testing.TB, q wireRequest, decision string) []byte {
	t.Helper()
	st := threshold.Statement{
		RequestID: q.RequestID, Kind: q.Kind, UserID: q.UserID, RecordID: q.RecordID,
		Decision: decision, RequesterID: q.Requester.ID, Purpose: q.Purpose,
		BlindedElements: q.BlindedElements, ExpiresAt: q.ExpiresAt,
	}
	if q.Kind == threshold.KindCreate {
		st.ContentSHA256 = q.Record.ContentSHA256
	}
	b, err := st.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// answerBody is a correct answer to q: for an approval, the POPRF
// evaluation under the info of q's own record.
func (d *testDevice) answerBody(t testing.TB, q wireRequest, decision string) wireAnswer {
	t.Helper()
	a := wireAnswer{Decision: decision, Signature: threshold.Sign(d.sk, statement(t, q, decision))}
	if decision == threshold.DecisionApprove {
		a.EvaluatedElements, a.Proof = d.evaluate(t, q.UserID, q.RecordID, q.BlindedElements)
	}
	return a
}

// evaluate evaluates blinded under the info of record recordID.
func (d *testDevice) evaluate(t testing.TB, userID, recordID string, blinded [][]byte) ([][]byte, []byte) {
	t.Helper()
	info, err := threshold.RecordInfo(userID, recordID)
	if err != nil {
		t.Fatal(err)
	}
	ev, proof, err := d.kD.EvaluatePOPRF(rand.Reader, blinded, info)
	if err != nil {
		t.Fatal(err)
	}
	return ev, proof
}

// answer posts a correct answer to q.
func (d *testDevice) answer(t testing.TB, q wireRequest, decision string) *resp {
	t.Helper()
	return d.post(t, q.RequestID, d.answerBody(t, q, decision))
}

func (d *testDevice) post(t testing.TB, requestID string, a wireAnswer) *resp {
	t.Helper()
	return d.call(t, http.MethodPost, "/v1/device/requests/"+requestID+"/response", a)
}

// Flows used by many tests.

// newUser creates a user and returns its id and enrollment code.
func (e *testEnv) newUser(t testing.TB) wireUser {
	t.Helper()
	var u wireUser
	e.do(http.MethodPost, "/v1/users", e.admin, map[string]string{
		"external_id": "ext-" + newNonce(t), "display_name": "Ada",
	}).want(t, http.StatusCreated).decode(t, &u)
	return u
}

// userWithDevice creates a user with one enrolled device.
func (e *testEnv) userWithDevice(t testing.TB) *testDevice {
	t.Helper()
	u := e.newUser(t)
	d := newDeviceKeys(t, e)
	d.enroll(t, u.EnrollmentCode)
	return d
}

// createRecord creates a record of user uid.
func (e *testEnv) createRecord(t testing.TB, uid string) string {
	t.Helper()
	var r wireRecordState
	e.do(http.MethodPost, "/v1/users/"+uid+"/records", e.writer, map[string]string{
		"title": "Blood test 2026-11", "content_type": "application/pdf", "purpose": "lab results",
	}).want(t, http.StatusCreated).decode(t, &r)
	if r.State != "awaiting_upload" {
		t.Fatalf("new record state %q", r.State)
	}
	return r.RecordID
}

// upload uploads content to record rid and returns the 202 answer.
func (e *testEnv) upload(t testing.TB, rid string, content []byte) wirePending {
	t.Helper()
	var p wirePending
	e.do(http.MethodPut, "/v1/records/"+rid+"/content", e.writer, content).want(t, http.StatusAccepted).decode(t, &p)
	if p.State != "pending_approval" || p.RecordID != rid || !threshold.ValidMatchCode(p.MatchCode) {
		t.Fatalf("upload answer %+v", p)
	}
	return p
}

// record reads record rid (with ?wait=S if wait is set).
func (e *testEnv) record(t testing.TB, rid, key, query string) wireRecord {
	t.Helper()
	var r wireRecord
	e.do(http.MethodGet, "/v1/records/"+rid+query, key, nil).want(t, http.StatusOK).decode(t, &r)
	return r
}

// sealed creates, uploads and has d approve a record, and returns its id.
func (e *testEnv) sealed(t testing.TB, d *testDevice, content []byte) string {
	t.Helper()
	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, content)
	d.answer(t, d.request(t, p.RequestID), threshold.DecisionApprove).want(t, http.StatusOK)
	if r := e.record(t, rid, e.writer, "?wait=5"); r.State != "sealed" {
		t.Fatalf("record %s is %s, want sealed", rid, r.State)
	}
	return rid
}

// askAccess asks for access to rid as the client with key.
func (e *testEnv) askAccess(t testing.TB, rid, key string) wirePending {
	t.Helper()
	var p wirePending
	e.do(http.MethodPost, "/v1/records/"+rid+"/access", key, map[string]string{"purpose": "second opinion"}).
		want(t, http.StatusAccepted).decode(t, &p)
	if p.State != "pending_approval" || p.SessionID == "" || !threshold.ValidMatchCode(p.MatchCode) {
		t.Fatalf("access answer %+v", p)
	}
	return p
}

// session reads session sid as the client with key.
func (e *testEnv) session(t testing.TB, sid, key, query string) wireSession {
	t.Helper()
	var s wireSession
	e.do(http.MethodGet, "/v1/sessions/"+sid+query, key, nil).want(t, http.StatusOK).decode(t, &s)
	return s
}

// openSession asks for access to rid as reader and has d approve it.
func (e *testEnv) openSession(t testing.TB, d *testDevice, rid string) string {
	t.Helper()
	p := e.askAccess(t, rid, e.reader)
	d.answer(t, d.request(t, p.RequestID), threshold.DecisionApprove).want(t, http.StatusOK)
	if s := e.session(t, p.SessionID, e.reader, "?wait=5"); s.State != "open" {
		t.Fatalf("session %s is %s, want open", p.SessionID, s.State)
	}
	return p.SessionID
}

// randomContent returns n random bytes.
func randomContent(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/threshold"
)

// answer is a device's answer to a request built by hand from the
// primitives, as the device library builds it, so that a test can replace
// exactly one part: the statement signed, the signing key, the POPRF key or
// the info evaluated.
type answer struct {
	stmt   threshold.Statement
	signer ed25519.PrivateKey
	key    *oprf.PrivateKey // nil: no evaluation (a deny)
	info   []byte
}

// handAnswer is the honest answer of the device id to req.
func handAnswer(t *testing.T, id *device.Identity, req *device.Request, decision string) *answer {
	t.Helper()
	a := &answer{
		stmt: threshold.Statement{
			RequestID: req.RequestID, Kind: req.Kind, UserID: req.UserID, RecordID: req.RecordID,
			Decision: decision, RequesterID: req.Requester.ID, Purpose: req.Purpose,
			BlindedElements: req.BlindedElements, ExpiresAt: req.ExpiresAt,
		},
		signer: id.SigningKey,
	}
	if req.Kind == threshold.KindCreate {
		a.stmt.ContentSHA256 = req.Record.ContentSHA256
	}
	if decision == threshold.DecisionApprove {
		a.key = id.OPRFKey
		a.info = recordInfo(t, req.UserID, req.RecordID)
	}
	return a
}

func recordInfo(t *testing.T, uid, rid string) []byte {
	t.Helper()
	info, err := threshold.RecordInfo(uid, rid)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// response signs the statement and evaluates the blinded elements.
func (a *answer) response(t *testing.T) *device.Response {
	t.Helper()
	msg, err := a.stmt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r := &device.Response{Decision: a.stmt.Decision, Signature: threshold.Sign(a.signer, msg)}
	if a.key != nil {
		r.EvaluatedElements, r.Proof, err = a.key.EvaluatePOPRF(rand.Reader, a.stmt.BlindedElements, a.info)
		if err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// signedCall is one device API call with its authentication headers,
// built by hand so that a test can send the very same bytes twice, or
// forge one part.
type signedCall struct {
	method, target string
	body           []byte
	header         http.Header
}

// sign makes the call of device deviceID signed by signer, with a fresh
// nonce and the current time.
func sign(t *testing.T, deviceID string, signer ed25519.PrivateKey, method, target string, body []byte) *signedCall {
	t.Helper()
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		t.Fatal(err)
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := base64.StdEncoding.EncodeToString(n[:])
	sig := threshold.Sign(signer, threshold.DeviceAuthMessage(method, target, ts, nonce, body))
	h := http.Header{}
	h.Set(device.HeaderDevice, deviceID)
	h.Set(device.HeaderTimestamp, ts)
	h.Set(device.HeaderNonce, nonce)
	h.Set(device.HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	return &signedCall{method: method, target: target, body: body, header: h}
}

// signResponse makes the signed POST of an answer to request requestID.
func signResponse(t *testing.T, id *device.Identity, signer ed25519.PrivateKey, requestID string, r *device.Response) *signedCall {
	t.Helper()
	body, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return sign(t, id.DeviceID, signer, http.MethodPost, "/v1/device/requests/"+requestID+"/response", body)
}

// send sends the call to the server at base and returns the refusal, or
// nil for a 200.
func (c *signedCall) send(t *testing.T, base string) *APIError {
	t.Helper()
	req, err := http.NewRequest(c.method, base+c.target, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = c.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	return ReadAPIError(resp.StatusCode, data)
}

package server

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/threshold"
)

// TestDeviceAuth runs the device authentication checks with the replay
// cache in the store (nodes sharing it) and in memory (Config.SingleNode).
func TestDeviceAuth(t *testing.T) {
	t.Run("shared store", func(t *testing.T) { testDeviceAuth(t, false) })
	t.Run("single node", func(t *testing.T) { testDeviceAuth(t, true) })
}

func testDeviceAuth(t *testing.T, single bool) {
	e := newEnv(t, func(c *Config) { c.SingleNode = single })
	d := e.userWithDevice(t)
	const target = "/v1/device/requests?state=pending"
	now := e.clock.Now()
	unauth := func(t *testing.T, req *http.Request) {
		t.Helper()
		e.send(req).wantError(t, http.StatusUnauthorized, "unauthenticated")
	}

	t.Run("good", func(t *testing.T) {
		e.send(d.signed(t, "GET", target, nil, now, newNonce(t))).want(t, http.StatusOK)
		// At the edges of the allowed skew.
		e.send(d.signed(t, "GET", target, nil, now.Add(MaxClockSkew), newNonce(t))).want(t, http.StatusOK)
		e.send(d.signed(t, "GET", target, nil, now.Add(-MaxClockSkew), newNonce(t))).want(t, http.StatusOK)
	})
	t.Run("skew", func(t *testing.T) {
		unauth(t, d.signed(t, "GET", target, nil, now.Add(MaxClockSkew+time.Second), newNonce(t)))
		unauth(t, d.signed(t, "GET", target, nil, now.Add(-MaxClockSkew-time.Second), newNonce(t)))
	})
	t.Run("replay", func(t *testing.T) {
		nonce := newNonce(t)
		e.send(d.signed(t, "GET", target, nil, now, nonce)).want(t, http.StatusOK)
		unauth(t, d.signed(t, "GET", target, nil, now, nonce))
		// Even with a new timestamp, within the window.
		e.clock.Advance(30 * time.Second)
		unauth(t, d.signed(t, "GET", target, nil, e.clock.Now(), nonce))
	})
	t.Run("replay at the edge of the skew", func(t *testing.T) {
		// A device clock MaxClockSkew ahead: the timestamp passes from
		// server time ts-MaxClockSkew to ts+MaxClockSkew, so the nonce must
		// be remembered that long, not NonceWindow from its first use.
		for _, later := range []time.Duration{2*MaxClockSkew - time.Second, 2 * MaxClockSkew} {
			first := e.clock.Now()
			ts := first.Add(MaxClockSkew)
			nonce := newNonce(t)
			e.send(d.signed(t, "GET", target, nil, ts, nonce)).want(t, http.StatusOK)
			e.clock.Advance(later)
			unauth(t, d.signed(t, "GET", target, nil, ts, nonce))
			// The same timestamp still passes with a fresh nonce: the 401
			// above is the replay, not the skew.
			e.send(d.signed(t, "GET", target, nil, ts, newNonce(t))).want(t, http.StatusOK)
		}
	})
	t.Run("forged", func(t *testing.T) {
		req := d.signed(t, "GET", target, nil, e.clock.Now(), newNonce(t))
		sig, _ := base64.StdEncoding.DecodeString(req.Header.Get(HeaderSignature))
		sig[5] ^= 1
		req.Header.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
		unauth(t, req)

		other := *d
		_, other.sk, _ = ed25519.GenerateKey(rand.Reader)
		unauth(t, other.signed(t, "GET", target, nil, e.clock.Now(), newNonce(t)))
	})
	t.Run("signed for another target", func(t *testing.T) {
		req := d.signed(t, "GET", "/v1/device/requests", nil, e.clock.Now(), newNonce(t))
		req.URL.RawQuery = "state=pending"
		unauth(t, req)
	})
	t.Run("body changed", func(t *testing.T) {
		q := []byte(`{"decision":"deny","signature":"AAAA"}`)
		req := d.signed(t, "POST", "/v1/device/requests/req_aaaaaaaaaaaaaaaaaaaaaaaaaa/response", q, e.clock.Now(), newNonce(t))
		req.Body = readCloser(bytes.Replace(q, []byte("deny"), []byte("yes!"), 1))
		unauth(t, req)
	})
	t.Run("unknown device", func(t *testing.T) {
		ghost := *d
		ghost.id = "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa"
		unauth(t, ghost.signed(t, "GET", target, nil, e.clock.Now(), newNonce(t)))
	})
	t.Run("malformed headers", func(t *testing.T) {
		for _, h := range []struct{ name, value string }{
			{HeaderDevice, ""}, {HeaderDevice, "dev_x"},
			{HeaderTimestamp, ""}, {HeaderTimestamp, "+" + strconv.FormatInt(now.Unix(), 10)}, {HeaderTimestamp, "1e9"},
			{HeaderNonce, ""}, {HeaderNonce, "AAAA"}, {HeaderNonce, "not base64!"},
			{HeaderSignature, ""}, {HeaderSignature, "%%%"},
		} {
			req := d.signed(t, "GET", target, nil, e.clock.Now(), newNonce(t))
			req.Header.Set(h.name, h.value)
			unauth(t, req)
		}
	})
	t.Run("oversize body", func(t *testing.T) {
		big := bytes.Repeat([]byte("a"), maxJSONBody+1)
		req := d.signed(t, "POST", "/v1/device/devices/"+d.id+"/revoke", big, e.clock.Now(), newNonce(t))
		e.send(req).wantError(t, http.StatusRequestEntityTooLarge, "too_large")
		// An answer may carry a transfer bundle, and has a higher cap.
		big = bytes.Repeat([]byte("a"), maxTransferBody+1)
		req = d.signed(t, "POST", "/v1/device/requests/req_aaaaaaaaaaaaaaaaaaaaaaaaaa/response", big, e.clock.Now(), newNonce(t))
		e.send(req).wantError(t, http.StatusRequestEntityTooLarge, "too_large")
	})
	t.Run("state filter", func(t *testing.T) {
		// Only state=pending is supported (WIRE.md): anything else,
		// including no state at all, is refused rather than guessed.
		for _, q := range []string{"?state=approved", "", "?state=", "?state=pending&state=approved", "?other=1"} {
			d.call(t, "GET", "/v1/device/requests"+q, nil).wantError(t, http.StatusBadRequest, "bad_request")
		}
		d.call(t, "GET", "/v1/device/requests?state=pending", nil).want(t, http.StatusOK)
	})
}

func readCloser(b []byte) *nopCloser { return &nopCloser{bytes.NewReader(b)} }

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

// TestAnswerBadPaths: every wrong answer is refused and leaves the request
// pending, so the right answer still works afterwards.
func TestAnswerBadPaths(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, []byte("content"))
	q := d.request(t, p.RequestID)
	stillPending := func(t *testing.T) {
		t.Helper()
		if got := d.request(t, q.RequestID); got.State != "pending" {
			t.Fatalf("request is %s after a refused answer", got.State)
		}
		if r := e.record(t, rid, e.writer, ""); r.State != "pending_approval" {
			t.Fatalf("record is %s after a refused answer", r.State)
		}
		// An approval checked with the request's secrets claims them; a
		// refused one must give them back, or no later answer could use
		// them.
		p, res := e.srv.pending.claim(q.RequestID)
		if res != claimed {
			t.Fatalf("the request's secrets are %v after a refused answer, want free", res)
		}
		e.srv.pending.unclaim(q.RequestID, p)
	}

	t.Run("bad proof", func(t *testing.T) {
		a := d.answerBody(t, q, threshold.DecisionApprove)
		a.Proof[3] ^= 1
		d.post(t, q.RequestID, a).wantError(t, http.StatusBadRequest, "bad_proof")
		stillPending(t)
	})
	t.Run("evaluation for another record", func(t *testing.T) {
		other := e.createRecord(t, d.userID)
		a := d.answerBody(t, q, threshold.DecisionApprove)
		a.EvaluatedElements, a.Proof = d.evaluate(t, q.UserID, other, q.BlindedElements)
		d.post(t, q.RequestID, a).wantError(t, http.StatusBadRequest, "bad_proof")
		stillPending(t)
	})
	t.Run("no evaluation", func(t *testing.T) {
		a := d.answerBody(t, q, threshold.DecisionApprove)
		a.EvaluatedElements, a.Proof = nil, nil
		d.post(t, q.RequestID, a).wantError(t, http.StatusBadRequest, "bad_proof")
		stillPending(t)
	})
	t.Run("statement of other terms", func(t *testing.T) {
		// Signed over a different purpose than the server asked for.
		changed := q
		changed.Purpose = "marketing"
		a := d.answerBody(t, changed, threshold.DecisionApprove)
		d.post(t, q.RequestID, a).wantError(t, http.StatusUnauthorized, "unauthenticated")
		// A deny signature does not pass as an approval.
		a = d.answerBody(t, q, threshold.DecisionApprove)
		a.Signature = d.answerBody(t, q, threshold.DecisionDeny).Signature
		d.post(t, q.RequestID, a).wantError(t, http.StatusUnauthorized, "unauthenticated")
		stillPending(t)
	})
	t.Run("bad decision", func(t *testing.T) {
		a := d.answerBody(t, q, threshold.DecisionApprove)
		a.Decision = "maybe"
		d.post(t, q.RequestID, a).wantError(t, http.StatusBadRequest, "bad_request")
		stillPending(t)
	})
	t.Run("another user's request", func(t *testing.T) {
		stranger := e.userWithDevice(t)
		stranger.call(t, "GET", "/v1/device/requests/"+q.RequestID, nil).wantError(t, http.StatusNotFound, "not_found")
		stranger.post(t, q.RequestID, stranger.answerBody(t, q, threshold.DecisionApprove)).wantError(t, http.StatusNotFound, "not_found")
		stillPending(t)
	})
	t.Run("device with another key", func(t *testing.T) {
		var code wireUser
		e.do(http.MethodPost, "/v1/users/"+d.userID+"/enrollment", e.admin, nil).want(t, http.StatusCreated).decode(t, &code)
		// A fresh key is refused at confirmation, and never answers.
		second := newDeviceKeys(t, e)
		en := second.register(t, code.EnrollmentCode)
		e.do(http.MethodPost, "/v1/device/enroll/confirm", "", second.confirmBody(t, en)).
			wantError(t, http.StatusConflict, "device_key_mismatch")
		second.post(t, q.RequestID, second.answerBody(t, q, threshold.DecisionApprove)).wantError(t, http.StatusUnauthorized, "unauthenticated")
		stillPending(t)
	})
	t.Run("malformed id", func(t *testing.T) {
		d.post(t, "req_zz", d.answerBody(t, q, threshold.DecisionApprove)).wantError(t, http.StatusBadRequest, "invalid_id")
	})

	raceAnswers(t, e, d, q)
	if r := e.record(t, rid, e.writer, "?wait=5"); r.State != "sealed" {
		t.Fatalf("record is %s", r.State)
	}
	d.answer(t, q, threshold.DecisionDeny).wantError(t, http.StatusConflict, "conflict")
}

// raceAnswers posts four approvals of q at once, each freshly signed:
// exactly one wins, the others are conflicts.
func raceAnswers(t *testing.T, e *testEnv, d *testDevice, q wireRequest) {
	t.Helper()
	var wg sync.WaitGroup
	statuses := make([]int, 4)
	reqs := make([]*http.Request, len(statuses))
	for i := range reqs {
		body, err := json.Marshal(d.answerBody(t, q, threshold.DecisionApprove))
		if err != nil {
			t.Fatal(err)
		}
		reqs[i] = d.signed(t, "POST", "/v1/device/requests/"+q.RequestID+"/response", body, e.clock.Now(), newNonce(t))
	}
	for i, req := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := e.ts.Client().Do(req)
			if err != nil {
				return
			}
			res.Body.Close()
			statuses[i] = res.StatusCode
		}()
	}
	wg.Wait()
	ok, conflicts := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			conflicts++
		}
	}
	if ok != 1 || conflicts != len(statuses)-1 {
		t.Fatalf("racing answers got %v, want one 200 and the rest 409", statuses)
	}
}

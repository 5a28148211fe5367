package server

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/threshold"
)

func TestPendingCap(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxPendingPerUser = 2 })
	d := e.userWithDevice(t)
	for range 2 {
		e.upload(t, e.createRecord(t, d.userID), []byte("x"))
	}
	rid := e.createRecord(t, d.userID)
	r := e.do(http.MethodPut, "/v1/records/"+rid+"/content", e.writer, []byte("x"))
	r.wantError(t, http.StatusTooManyRequests, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if slices.Contains(e.stagedNames(t), rid) || e.keptContent(t, rid) != nil {
		t.Error("a refused upload left its ciphertext")
	}
	// Answering one makes room.
	q := d.pending(t)[0]
	d.answer(t, q, "deny").want(t, http.StatusOK)
	e.upload(t, rid, []byte("x"))
}

func TestRateLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.UserRate, c.UserBurst = 0.1, 2
		c.RequesterRate, c.RequesterBurst = 0.1, 3
	})
	d := e.userWithDevice(t)
	d2 := e.userWithDevice(t)
	upload := func(dev *testDevice) *resp {
		return e.do(http.MethodPut, "/v1/records/"+e.createRecord(t, dev.userID)+"/content", e.writer, []byte("x"))
	}
	upload(d).want(t, http.StatusAccepted)
	upload(d).want(t, http.StatusAccepted)
	r := upload(d) // the user's burst is spent
	r.wantError(t, http.StatusTooManyRequests, "rate_limited")
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 10 {
		t.Errorf("Retry-After %q, want 1..10 s at 0.1/s", r.header.Get("Retry-After"))
	}
	upload(d2).want(t, http.StatusAccepted)
	upload(d2).wantError(t, http.StatusTooManyRequests, "rate_limited") // the requester's burst is spent
	// Another requester is not held back by this one.
	other := e.client("other writer", ScopeRecordsWrite)
	ridOther := func() string {
		var rs wireRecordState
		e.do(http.MethodPost, "/v1/users/"+d2.userID+"/records", other, map[string]string{
			"title": "t", "content_type": "text/plain",
		}).want(t, http.StatusCreated).decode(t, &rs)
		return rs.RecordID
	}()
	e.do(http.MethodPut, "/v1/records/"+ridOther+"/content", other, []byte("x")).want(t, http.StatusAccepted)
	// Tokens come back with time.
	e.clock.Advance(20 * time.Second)
	upload(d).want(t, http.StatusAccepted)
}

// TestLongPoll: ?wait=S returns as soon as the state changes, and returns
// the unchanged state when S passes.
func TestLongPoll(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, []byte("wait for me"))

	start := time.Now()
	if r := e.record(t, rid, e.writer, "?wait=1"); r.State != "pending_approval" {
		t.Fatalf("state %s", r.State)
	}
	if time.Since(start) < time.Second {
		t.Error("?wait=1 returned before a second passed without a change")
	}

	done := make(chan string, 1)
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/v1/records/"+rid+"?wait=30", nil)
	req.Header.Set("Authorization", "Bearer "+e.writer)
	go func() {
		var r wireRecord
		res, err := e.ts.Client().Do(req)
		if err != nil {
			done <- err.Error()
			return
		}
		defer res.Body.Close()
		if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
			done <- err.Error()
			return
		}
		done <- r.State
	}()
	time.Sleep(50 * time.Millisecond)
	d.answer(t, d.request(t, p.RequestID), "approve").want(t, http.StatusOK)
	select {
	case state := <-done:
		if state != "sealed" {
			t.Fatalf("long poll woke with %s", state)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("long poll did not wake on the change")
	}
}

// TestOneRequesterCannotLockOthersOut: a records:access client flooding one
// user with access requests is held to its own share (pending cap, then
// rate), with a 429 naming the limit, and another client still gets 202
// for the same user. The limits are the defaults.
func TestOneRequesterCannotLockOthersOut(t *testing.T) {
	def := DefaultConfig()
	e := newEnv(t, func(c *Config) {
		c.UserRate, c.UserBurst = def.UserRate, def.UserBurst
		c.RequesterRate, c.RequesterBurst = def.RequesterRate, def.RequesterBurst
		c.UserRequesterRate, c.UserRequesterBurst = def.UserRequesterRate, def.UserRequesterBurst
		c.MaxPendingPerUser, c.MaxPendingPerRequester = def.MaxPendingPerUser, def.MaxPendingPerRequester
	})
	d := e.userWithDevice(t)
	rid := e.sealed(t, d, []byte("the record"))
	var refused *resp
	for i := range 10 {
		r := e.do(http.MethodPost, "/v1/records/"+rid+"/access", e.reader, map[string]string{"purpose": "flood"})
		if r.status == http.StatusAccepted {
			continue
		}
		if i < def.MaxPendingPerRequester {
			t.Fatalf("request %d refused below the per-requester cap: %d %s", i, r.status, r.body)
		}
		refused = r
	}
	if refused == nil {
		t.Fatal("the flooding client was never refused")
	}
	refused.wantError(t, http.StatusTooManyRequests, "rate_limited")
	if !strings.Contains(string(refused.body), "max-pending-per-requester") {
		t.Errorf("429 does not name the limit: %s", refused.body)
	}
	e.askAccess(t, rid, e.other)

	// Past its pending cap (answered), the pair's rate holds the flooder.
	for _, q := range d.pending(t) {
		d.answer(t, q, threshold.DecisionDeny).want(t, http.StatusOK)
	}
	r := e.do(http.MethodPost, "/v1/records/"+rid+"/access", e.reader, map[string]string{"purpose": "flood"})
	r.wantError(t, http.StatusTooManyRequests, "rate_limited")
	if !strings.Contains(string(r.body), "user-requester-rate") {
		t.Errorf("429 does not name the limit: %s", r.body)
	}
	e.askAccess(t, rid, e.other)
}

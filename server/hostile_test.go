package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// countingStore counts the enrollment and record reads and writes that
// hostile clients could drive.
type countingStore struct {
	store.Store
	uses, gets, records atomic.Int64
}

func (s *countingStore) UseEnrollment(ctx context.Context, h []byte, now time.Time) (*store.Enrollment, error) {
	s.uses.Add(1)
	return s.Store.UseEnrollment(ctx, h, now)
}

func (s *countingStore) GetEnrollment(ctx context.Context, h []byte) (*store.Enrollment, error) {
	s.gets.Add(1)
	return s.Store.GetEnrollment(ctx, h)
}

func (s *countingStore) GetRecord(ctx context.Context, id string) (*store.Record, error) {
	s.records.Add(1)
	return s.Store.GetRecord(ctx, id)
}

// TestEnrollmentFlood: well-formed random codes cost a read, never the
// store's writer, and past the per-address burst no store call at all.
func TestEnrollmentFlood(t *testing.T) {
	cs := &countingStore{}
	e := newEnv(t, func(c *Config) { c.EnrollRate, c.EnrollBurst = 0.01, 3 }, func(d *Deps) { cs.Store = d.Store; d.Store = cs })
	dev := newDeviceKeys(t, e)
	for i := range 6 {
		r := dev.startEnroll("ABCDE-FGHIJ-KLMNO-PQRS" + string(rune('A'+i)))
		if i < 3 {
			r.wantError(t, http.StatusUnauthorized, "unauthenticated")
		} else {
			r.wantError(t, http.StatusTooManyRequests, "rate_limited")
		}
	}
	if cs.uses.Load() != 0 {
		t.Errorf("unknown codes took the writer %d times", cs.uses.Load())
	}
	if cs.gets.Load() != 3 {
		t.Errorf("%d code lookups, want 3 (none past the burst)", cs.gets.Load())
	}
	e.do(http.MethodPost, "/v1/device/enroll/confirm", "", map[string]any{}).wantError(t, http.StatusTooManyRequests, "rate_limited")
}

// TestEnrollmentCodeStates: a used or expired code is refused by the read,
// before the code is spent again.
func TestEnrollmentCodeStates(t *testing.T) {
	cs := &countingStore{}
	e := newEnv(t, nil, func(d *Deps) { cs.Store = d.Store; d.Store = cs })
	u := e.newUser(t)
	newDeviceKeys(t, e).enroll(t, u.EnrollmentCode)
	uses := cs.uses.Load()
	newDeviceKeys(t, e).startEnroll(u.EnrollmentCode).wantError(t, http.StatusGone, "gone")
	u2 := e.newUser(t)
	e.clock.Advance(EnrollmentTTL + time.Minute)
	newDeviceKeys(t, e).startEnroll(u2.EnrollmentCode).wantError(t, http.StatusGone, "expired")
	if cs.uses.Load() != uses {
		t.Error("a used or expired code took the writer")
	}
}

// TestRecordCreationRate: record creation is limited per client.
func TestRecordCreationRate(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.CreateRate, c.CreateBurst = 0.01, 2 })
	d := e.userWithDevice(t)
	e.createRecord(t, d.userID)
	e.createRecord(t, d.userID)
	r := e.do(http.MethodPost, "/v1/users/"+d.userID+"/records", e.writer, map[string]string{"title": "t", "content_type": "text/plain"})
	r.wantError(t, http.StatusTooManyRequests, "rate_limited")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	other := e.client("other writer", ScopeRecordsWrite)
	e.do(http.MethodPost, "/v1/users/"+d.userID+"/records", other, map[string]string{"title": "t", "content_type": "text/plain"}).
		want(t, http.StatusCreated)
}

// TestTrickleUploadCut: an upload slower than UploadMinBytes per
// UploadWindow is cut off with 400, its key and blob gone, and the record
// can be uploaded again.
func TestTrickleUploadCut(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	addr, _, _ := serveNode(t, e, func(c *Config) { c.UploadWindow, c.UploadMinBytes = time.Second, 64<<10 })
	rid := e.createRecord(t, d.userID)
	pr, pw := io.Pipe()
	stop := make(chan struct{})
	go func() {
		defer pw.Close()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := pw.Write([]byte("trickle")); err != nil {
					return
				}
			}
		}
	}()
	defer close(stop)
	up, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/v1/records/"+rid+"/content", pr)
	up.Header.Set("Authorization", "Bearer "+e.writer)
	start := time.Now()
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(up)
	if err != nil {
		t.Fatalf("the trickling upload was not answered: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !bytes.Contains(body, []byte("too slow")) {
		t.Fatalf("trickling upload: %d %s", res.StatusCode, body)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("cut after %s, want about the window (1s)", took)
	}
	if len(e.stagedNames(t)) != 0 || e.srv.pending.len() != 0 {
		t.Error("a cut upload left a blob or secrets")
	}
	e.upload(t, rid, []byte("at full speed"))
}

// TestLongPollCap: one client's concurrent long polls are capped on a
// node; others' are not affected, and a finished poll frees its slot.
func TestLongPollCap(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxLongPollsPerClient = 2 })
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	e.upload(t, rid, []byte("pending"))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { e.record(t, rid, e.writer, "?wait=2") })
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.srv.polls.count(authKeyID(t, e, e.writer)) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r := e.do(http.MethodGet, "/v1/records/"+rid+"?wait=2", e.writer, nil)
	r.wantError(t, http.StatusTooManyRequests, "rate_limited")
	if !strings.Contains(string(r.body), "max-long-polls") {
		t.Errorf("429 does not name the limit: %s", r.body)
	}
	e.record(t, rid, e.writer, "")        // no wait: not counted
	e.record(t, rid, e.reader, "?wait=1") // another client
	wg.Wait()
	e.record(t, rid, e.writer, "?wait=1")
}

// authKeyID returns the client id of API key key.
func authKeyID(t *testing.T, e *testEnv, key string) string {
	t.Helper()
	prefix, ok := apiKeyPrefix(key)
	if !ok {
		t.Fatal("bad key")
	}
	cl, err := e.st.ClientByPrefix(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	return cl.ID
}

// TestLongPollWakesLocallyPollsStoreSlowly: a change on this node wakes a
// long poll at once, and a long poll waiting without change reads the store
// once per LongPollInterval, not every 500 ms.
func TestLongPollWakesLocallyPollsStoreSlowly(t *testing.T) {
	cs := &countingStore{}
	e := newEnv(t, nil, func(d *Deps) { cs.Store = d.Store; d.Store = cs })
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, []byte("wait"))
	before := cs.records.Load()
	e.record(t, rid, e.writer, "?wait=3")
	// getRecord's own read, the first load, and one reread per 2s.
	if n := cs.records.Load() - before; n > 4 {
		t.Errorf("a 3s long poll read the record %d times", n)
	}
	done := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		e.record(t, rid, e.writer, "?wait=30")
		done <- time.Since(start)
	}()
	time.Sleep(100 * time.Millisecond)
	d.answer(t, d.request(t, p.RequestID), "approve").want(t, http.StatusOK)
	if took := <-done; took > time.Second {
		t.Errorf("a local change woke the long poll after %s", took)
	}
}

// TestStrictJSONBodies: a body two parsers would read differently (a key
// twice, a key in another case than the schema's) is refused with 400, on
// every JSON route.
func TestStrictJSONBodies(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	for _, tc := range []struct{ path, key, body string }{
		{"/v1/users", e.admin, `{"external_id":"a","EXTERNAL_ID":"b","display_name":"Ada"}`},
		{"/v1/users", e.admin, `{"external_id":"a","external_id":"b","display_name":"Ada"}`},
		{"/v1/users", e.admin, `{"External_ID":"a","display_name":"Ada"}`},
		{"/v1/users", e.admin, "{\"external_id\":\"a\",\"di\u017fplay_name\":\"Ada\"}"},
		{"/v1/users/" + d.userID + "/records", e.writer, `{"title":"a","content_type":"text/plain","Title":"b"}`},
		{"/v1/device/enroll", "", `{"enrollment_code":"x","enrollment_code":"y","device_name":"p","oprf_public_key":"","signing_public_key":""}`},
	} {
		r := e.do(http.MethodPost, tc.path, tc.key, tc.body)
		r.wantError(t, http.StatusBadRequest, "bad_request")
	}
	// The same body with one spelling of each key is taken.
	e.do(http.MethodPost, "/v1/users", e.admin, `{"external_id":"a","display_name":"Ada"}`).want(t, http.StatusCreated)
}

// TestMasterKeyPinned: the first start pins the master key's id in the
// store; a node started on that store with another key refuses to start,
// and the right key starts again.
func TestMasterKeyPinned(t *testing.T) {
	e := newEnv(t, nil)
	other, err := threshold.NewMasterKey(bytes.Repeat([]byte{9}, threshold.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Destroy()
	srv, err := New(e.cfg, Deps{Store: e.st, Blobs: e.blobs, MasterKey: other, Clock: e.clock.Now, Logger: e.srv.log})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	err = srv.Start(t.Context())
	if !errors.Is(err, ErrMasterKeyMismatch) || !strings.Contains(err.Error(), other.ID()) || !strings.Contains(err.Error(), e.mk.ID()) {
		t.Fatalf("Start with another key: %v", err)
	}
	e.restart() // the right key
	e.newUser(t)
}

package device

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/threshold"
)

var checkNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func blindedElement(t testing.TB) []byte {
	t.Helper()
	b, err := oprf.Blind(rand.Reader, [][]byte{[]byte("record input")})
	if err != nil {
		t.Fatal(err)
	}
	return b.Elements()[0]
}

// validRequest returns a request of kind for id that passes every check at
// checkNow: made a minute ago, expiring in nine minutes, for a record made
// just before it.
func validRequest(t testing.TB, id *Identity, kind string) *Request {
	t.Helper()
	rid, err := ids.NewRecord(rand.Reader, checkNow.Add(-61*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("content"))
	r := &Request{
		RequestID: mustID(t, ids.Request), Kind: kind, UserID: id.UserID, RecordID: rid, DeviceKeyID: id.DeviceKeyID,
		Requester: Requester{ID: mustID(t, ids.Client), Name: "Clinic"}, Purpose: "yearly checkup",
		Record:          RecordView{Title: "Blood test", ContentType: "application/pdf", Size: 1234, ContentSHA256: sum[:]},
		BlindedElements: [][]byte{blindedElement(t)},
		CreatedAt:       checkNow.Add(-time.Minute), ExpiresAt: checkNow.Add(9 * time.Minute), State: RequestState,
	}
	return r
}

func TestCheckRequestAccepts(t *testing.T) {
	id := newIdentity(t, "https://assent.example")
	for _, kind := range []string{threshold.KindCreate, threshold.KindAccess} {
		if err := CheckRequest(id, validRequest(t, id, kind), checkNow, 0); err != nil {
			t.Errorf("%s: %v", kind, err)
		}
	}
	// An access may be to an old record: only a create must be new.
	r := validRequest(t, id, threshold.KindAccess)
	r.RecordID, _ = ids.NewRecord(rand.Reader, checkNow.AddDate(-2, 0, 0))
	if err := CheckRequest(id, r, checkNow, 0); err != nil {
		t.Errorf("access to an old record: %v", err)
	}
}

// refusals lists requests every device must refuse, each by one mutation of
// a valid one.
func refusals(t testing.TB, id *Identity) map[string]func(r *Request) {
	lifetime := 10 * time.Minute
	return map[string]func(r *Request){
		"unknown kind":      func(r *Request) { r.Kind = "delete" },
		"empty kind":        func(r *Request) { r.Kind = "" },
		"another user":      func(r *Request) { r.UserID = mustID(t, ids.User) },
		"another key":       func(r *Request) { r.DeviceKeyID = threshold.DeviceKeyID([]byte("other key")) },
		"no key id":         func(r *Request) { r.DeviceKeyID = "" },
		"malformed request": func(r *Request) { r.RequestID = "req_short" },
		"record not uuidv7": func(r *Request) { r.RecordID = "6ba7b810-9dad-11d1-80b4-00c04fd430c8" },
		"record uppercase":  func(r *Request) { r.RecordID = upper(r.RecordID) },
		"expired":           func(r *Request) { r.CreatedAt, r.ExpiresAt = checkNow.Add(-10*time.Minute), checkNow },
		"expired long ago": func(r *Request) {
			r.CreatedAt, r.ExpiresAt = checkNow.AddDate(0, 0, -1), checkNow.AddDate(0, 0, -1).Add(lifetime)
		},
		"no expiry":           func(r *Request) { r.ExpiresAt = time.Time{} },
		"no creation time":    func(r *Request) { r.CreatedAt = time.Time{} },
		"expires before made": func(r *Request) { r.CreatedAt = r.ExpiresAt.Add(time.Second) },
		"lifetime over cap":   func(r *Request) { r.CreatedAt = r.ExpiresAt.Add(-DefaultMaxLifetime - time.Second) },
		"made in the future":  func(r *Request) { r.CreatedAt, r.ExpiresAt = checkNow.Add(6*time.Minute), checkNow.Add(16*time.Minute) },
		"no blinded element":  func(r *Request) { r.BlindedElements = nil },
		"two blinded elements": func(r *Request) {
			r.BlindedElements = append(r.BlindedElements, blindedElement(t))
		},
		"short element":    func(r *Request) { r.BlindedElements[0] = r.BlindedElements[0][:31] },
		"identity element": func(r *Request) { r.BlindedElements[0] = make([]byte, 32) },
		"non-canonical element": func(r *Request) {
			r.BlindedElements[0] = append([]byte{0xff}, bytesOf(0xff, 31)...)
		},
		"requester not a client": func(r *Request) { r.Requester.ID = mustID(t, ids.User) },
		"purpose too long":       func(r *Request) { r.Purpose = string(bytesOf('a', MaxTextLen+1)) },
		"title not utf-8":        func(r *Request) { r.Record.Title = "\xff\xfe" },
	}
}

// createRefusals are refused for a create only.
func createRefusals(t testing.TB) map[string]func(r *Request) {
	lifetime := 10 * time.Minute
	return map[string]func(r *Request){
		"stale record id": func(r *Request) {
			r.RecordID, _ = ids.NewRecord(rand.Reader, checkNow.Add(-lifetime-RecordAgeSlack-time.Second))
		},
		"year-old record id":     func(r *Request) { r.RecordID, _ = ids.NewRecord(rand.Reader, checkNow.AddDate(-1, 0, 0)) },
		"record from the future": func(r *Request) { r.RecordID, _ = ids.NewRecord(rand.Reader, checkNow.Add(RecordAgeSlack+time.Second)) },
		"long lifetime hides an old record": func(r *Request) {
			// A server claiming a two-hour lifetime to pass off a record made
			// an hour and a half ago.
			r.CreatedAt = checkNow.Add(-time.Hour)
			r.ExpiresAt = checkNow.Add(time.Hour)
			r.RecordID, _ = ids.NewRecord(rand.Reader, checkNow.Add(-90*time.Minute))
		},
		"no digest":     func(r *Request) { r.Record.ContentSHA256 = nil },
		"short digest":  func(r *Request) { r.Record.ContentSHA256 = r.Record.ContentSHA256[:31] },
		"negative size": func(r *Request) { r.Record.Size = -1 },
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'f' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func bytesOf(c byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return b
}

func TestCheckRequestRefuses(t *testing.T) {
	id := newIdentity(t, "https://assent.example")
	for name, mutate := range refusals(t, id) {
		for _, kind := range []string{threshold.KindCreate, threshold.KindAccess} {
			r := validRequest(t, id, kind)
			mutate(r)
			if err := CheckRequest(id, r, checkNow, 0); !errors.Is(err, ErrRefused) {
				t.Errorf("%s (%s): got %v, want ErrRefused", name, kind, err)
			}
		}
	}
	for name, mutate := range createRefusals(t) {
		r := validRequest(t, id, threshold.KindCreate)
		mutate(r)
		if err := CheckRequest(id, r, checkNow, 0); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: got %v, want ErrRefused", name, err)
		}
	}
	r := validRequest(t, id, threshold.KindCreate)
	r.State = "approved"
	if err := CheckRequest(id, r, checkNow, 0); !errors.Is(err, ErrNotPending) {
		t.Errorf("answered request: got %v, want ErrNotPending", err)
	}
}

// TestCheckRequestRecordAge pins the boundary of DESIGN.md's rule: a create's
// record id may be as old as the request's lifetime plus five minutes, and no
// older.
func TestCheckRequestRecordAge(t *testing.T) {
	id := newIdentity(t, "https://assent.example")
	r := validRequest(t, id, threshold.KindCreate)
	lifetime := r.ExpiresAt.Sub(r.CreatedAt)
	for _, c := range []struct {
		age  time.Duration
		want error
	}{
		{lifetime + RecordAgeSlack - time.Millisecond, nil},
		{lifetime + RecordAgeSlack + time.Millisecond, ErrRefused},
		{-RecordAgeSlack + time.Millisecond, nil},
		{-RecordAgeSlack - time.Millisecond, ErrRefused},
	} {
		r.RecordID, _ = ids.NewRecord(rand.Reader, checkNow.Add(-c.age))
		err := CheckRequest(id, r, checkNow, 0)
		if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("record made %s ago: got %v, want %v", c.age, err, c.want)
		}
	}
	// The cap on lifetimes is the device's to set.
	r = validRequest(t, id, threshold.KindCreate)
	r.CreatedAt = checkNow.Add(-time.Minute)
	r.ExpiresAt = checkNow.Add(3 * time.Minute)
	if err := CheckRequest(id, r, checkNow, 3*time.Minute); !errors.Is(err, ErrRefused) {
		t.Errorf("4-minute lifetime under a 3-minute cap: got %v", err)
	}
}

// TestAgentRefusesWithoutEvaluating runs each refusal through the agent:
// the policy is never asked, the device share never evaluated, nothing is
// signed into the ledger and the server never contacted.
func TestAgentRefusesWithoutEvaluating(t *testing.T) {
	var contacted atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		contacted.Add(1)
		http.Error(w, "no call expected", http.StatusTeapot)
	}))
	defer srv.Close()
	id := newIdentity(t, srv.URL)
	ledgerPath := filepath.Join(t.TempDir(), "ledger")
	ledger := openTestLedger(t, ledgerPath)

	// A create the ledger already holds is refused too.
	held := validRequest(t, id, threshold.KindCreate)
	prior := testAnswer(t, threshold.KindCreate, held.RecordID, threshold.DecisionApprove)
	prior.UserID = id.UserID
	if err := ledger.AppendAnswer(prior); err != nil {
		t.Fatal(err)
	}

	client, err := NewClient(srv.URL, id, ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var asked, evaluated atomic.Int32
	agent, err := NewAgent(client, ledger, func(context.Context, *Prompt) (Decision, error) {
		asked.Add(1)
		return Approve, nil
	}, AgentOptions{Now: func() time.Time { return checkNow }})
	if err != nil {
		t.Fatal(err)
	}
	agent.evaluate = func(r io.Reader, b [][]byte, info []byte) ([][]byte, []byte, error) {
		evaluated.Add(1)
		return id.OPRFKey.EvaluatePOPRF(r, b, info)
	}

	reqs := map[string]*Request{"create of a held record": held}
	for name, mutate := range refusals(t, id) {
		r := validRequest(t, id, threshold.KindAccess)
		mutate(r)
		reqs[name] = r
	}
	for name, mutate := range createRefusals(t) {
		r := validRequest(t, id, threshold.KindCreate)
		mutate(r)
		reqs[name] = r
	}
	for name, r := range reqs {
		if _, err := agent.HandleRequest(context.Background(), r); !errors.Is(err, ErrRefused) {
			t.Errorf("%s: got %v, want ErrRefused", name, err)
		}
		if _, _, ok := ledger.Answer(r.RequestID); ok {
			t.Errorf("%s: refused request written to the ledger", name)
		}
	}
	if asked.Load() != 0 || evaluated.Load() != 0 || contacted.Load() != 0 {
		t.Errorf("refusals reached the policy %d times, the evaluation %d times, the server %d times",
			asked.Load(), evaluated.Load(), contacted.Load())
	}
	// A refused request is remembered: fetching it again is not needed.
	if _, err := agent.Handle(context.Background(), held.RequestID); !errors.Is(err, ErrRefused) || contacted.Load() != 0 {
		t.Errorf("Handle of a refused request: %v, server contacted %d times", err, contacted.Load())
	}
}

// FuzzCheckRequest decodes arbitrary server answers as requests and checks
// them: never a panic, and only ErrRefused or ErrNotPending.
func FuzzCheckRequest(f *testing.F) {
	id := newIdentity(f, "https://assent.example")
	for _, kind := range []string{threshold.KindCreate, threshold.KindAccess} {
		data, err := json.Marshal(validRequest(f, id, kind))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r Request
		if decodeJSON(data, &r) != nil {
			return
		}
		err := CheckRequest(id, &r, checkNow, 0)
		if err != nil && !errors.Is(err, ErrRefused) && !errors.Is(err, ErrNotPending) {
			t.Fatalf("undocumented error %v", err)
		}
		if err == nil {
			// What passes must make a statement the server can check.
			if _, err := threshold.ApprovalStatement(&r, threshold.DecisionApprove).Marshal(); err != nil {
				t.Fatalf("accepted request has no statement: %v", err)
			}
		}
	})
}

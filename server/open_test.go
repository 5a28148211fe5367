package server

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// TestAccessAnswersRace: approvals of one access request racing on the
// combined path: exactly one wins, the session opens once and serves its
// downloads, and a late deny is a conflict.
func TestAccessAnswersRace(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DownloadsPerSession = 1 })
	d := e.userWithDevice(t)
	rid := e.sealed(t, d, []byte("raced open"))
	p := e.askAccess(t, rid, e.reader)
	q := d.request(t, p.RequestID)
	raceAnswers(t, e, d, q)
	if s := e.session(t, p.SessionID, e.reader, "?wait=5"); s.State != store.SessionOpen {
		t.Fatalf("session is %s", s.State)
	}
	if got := e.do(http.MethodGet, "/v1/sessions/"+p.SessionID+"/content", e.reader, nil).want(t, http.StatusOK); string(got.body) != "raced open" {
		t.Fatalf("downloaded %q", got.body)
	}
	d.answer(t, q, threshold.DecisionDeny).wantError(t, http.StatusConflict, "conflict")
	entries, err := e.st.AuditEntries(t.Context(), d.userID, 0, store.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	for _, en := range entries {
		if en.Event == store.EventSessionOpened && en.Subject == p.SessionID {
			opened++
		}
	}
	if opened != 1 {
		t.Fatalf("%d session_opened entries, want 1", opened)
	}
}

// openFailStore fails AskAccess (ask) and AnswerAndOpen (fail) as an
// unavailable database would, when told to.
type openFailStore struct {
	store.Store
	ask, fail atomic.Bool
}

func (s *openFailStore) AskAccess(ctx context.Context, sess *store.Session, q *store.Request, e *store.AuditEntry) error {
	if s.ask.Load() {
		return fmt.Errorf("test: %w: disk gone", store.ErrUnavailable)
	}
	return s.Store.AskAccess(ctx, sess, q, e)
}

func (s *openFailStore) AnswerAndOpen(ctx context.Context, a *store.OpeningAnswer, now time.Time) (bool, error) {
	if s.fail.Load() {
		return false, fmt.Errorf("test: %w: disk gone", store.ErrUnavailable)
	}
	return s.Store.AnswerAndOpen(ctx, a, now)
}

// TestAccessAnswerStoreFails: when the store cannot take an access
// request, the client hears 503 and no secrets stay; when it cannot take
// an access approval, the device hears 503, the session stays pending with no key
// held, and the same approval sent again opens it.
func TestAccessAnswerStoreFails(t *testing.T) {
	fs := &openFailStore{}
	e := newEnv(t, nil, func(d *Deps) { fs.Store = d.Store; d.Store = fs })
	d := e.userWithDevice(t)
	rid := e.sealed(t, d, []byte("opened on the second try"))
	fs.ask.Store(true)
	e.do(http.MethodPost, "/v1/records/"+rid+"/access", e.reader, map[string]string{"purpose": "second opinion"}).
		wantError(t, http.StatusServiceUnavailable, "unavailable")
	if e.srv.pending.len() != 0 {
		t.Fatal("secrets held for an access request the store did not take")
	}
	fs.ask.Store(false)
	p := e.askAccess(t, rid, e.reader)
	q := d.request(t, p.RequestID)
	fs.fail.Store(true)
	d.answer(t, q, threshold.DecisionApprove).wantError(t, http.StatusServiceUnavailable, "unavailable")
	if s := e.session(t, p.SessionID, e.reader, ""); s.State != store.SessionPendingApproval {
		t.Fatalf("session is %s after a failed answer", s.State)
	}
	if e.srv.keys.len() != 0 {
		t.Fatal("a session key is held for a session that did not open")
	}
	fs.fail.Store(false)
	d.answer(t, q, threshold.DecisionApprove).want(t, http.StatusOK)
	if s := e.session(t, p.SessionID, e.reader, "?wait=5"); s.State != store.SessionOpen {
		t.Fatalf("session is %s after the retry", s.State)
	}
	got := e.do(http.MethodGet, "/v1/sessions/"+p.SessionID+"/content", e.reader, nil).want(t, http.StatusOK)
	if string(got.body) != "opened on the second try" {
		t.Fatalf("downloaded %q", got.body)
	}
}

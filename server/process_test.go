package server

import (
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// tamperStore hands out damaged key material when told to, as a database
// altered behind the server's back would: the user's wrapped server share,
// or a sealed record's wrapped data key, with one bit flipped.
type tamperStore struct {
	store.Store
	share, dek atomic.Bool
}

func (s *tamperStore) GetUser(ctx context.Context, id string) (*store.User, error) {
	u, err := s.Store.GetUser(ctx, id)
	if err == nil && s.share.Load() {
		u.ShareWrapped[len(u.ShareWrapped)-1] ^= 1
	}
	return u, err
}

func (s *tamperStore) GetRecord(ctx context.Context, id string) (*store.Record, error) {
	r, err := s.Store.GetRecord(ctx, id)
	if err == nil && s.dek.Load() && len(r.WrappedDEK) > 0 {
		r.WrappedDEK[len(r.WrappedDEK)-1] ^= 1
	}
	return r, err
}

// TestUnusableAnswerIsFinal: an approval whose processing fails for good
// (the server share or the data key does not unwrap) ends the record or
// session as expired at once, marks the request processed and drops its
// secrets, instead of being retried by the answer poller until expiry.
func TestUnusableAnswerIsFinal(t *testing.T) {
	ts := &tamperStore{}
	e := newEnv(t, nil, func(d *Deps) {
		ts.Store = d.Store
		d.Store = ts
	})
	d := e.userWithDevice(t)
	check := func(t *testing.T, requestID string) {
		t.Helper()
		q, err := e.st.GetRequest(t.Context(), requestID)
		if err != nil {
			t.Fatal(err)
		}
		if !q.Processed {
			t.Error("the request is not marked processed")
		}
		if e.srv.pending.has(requestID) {
			t.Error("the request's secrets are still held")
		}
	}

	t.Run("create, share does not unwrap", func(t *testing.T) {
		rid := e.createRecord(t, d.userID)
		p := e.upload(t, rid, []byte("never sealed"))
		q := d.request(t, p.RequestID)
		ts.share.Store(true)
		d.answer(t, q, threshold.DecisionApprove).want(t, http.StatusOK)
		r := e.record(t, rid, e.writer, "?wait=5")
		ts.share.Store(false)
		if r.State != store.RecordExpired {
			t.Fatalf("record is %s, want expired", r.State)
		}
		check(t, p.RequestID)
		if slices.Contains(e.stagedNames(t), rid) {
			t.Error("the staged blob of the expired record stays")
		}
	})
	t.Run("access, data key does not unwrap", func(t *testing.T) {
		rid := e.sealed(t, d, []byte("sealed, then damaged"))
		p := e.askAccess(t, rid, e.reader)
		q := d.request(t, p.RequestID)
		ts.dek.Store(true)
		d.answer(t, q, threshold.DecisionApprove).want(t, http.StatusOK)
		s := e.session(t, p.SessionID, e.reader, "?wait=5")
		ts.dek.Store(false)
		if s.State != store.SessionExpired {
			t.Fatalf("session is %s, want expired", s.State)
		}
		check(t, p.RequestID)
		if e.srv.keys.len() != 0 {
			t.Error("a session key is held")
		}
	})

	var chain api.AuditList
	d.call(t, http.MethodGet, "/v1/device/audit", nil).want(t, http.StatusOK).decode(t, &chain)
	events := verifyAudit(t, chain.Entries)
	if !slices.Contains(events, store.EventRecordExpired) || !slices.Contains(events, store.EventSessionExpired) {
		t.Errorf("audit events %v lack the record's and the session's expiry", events)
	}
}

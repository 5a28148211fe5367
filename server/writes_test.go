package server

import (
	"context"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// writeCounter counts the store calls that write.
type writeCounter struct {
	store.Store
	n atomic.Int64
}

func (w *writeCounter) count() int64 { return w.n.Load() }

func (w *writeCounter) CreateRecordAudited(ctx context.Context, r *store.Record, e *store.AuditEntry) error {
	w.n.Add(1)
	return w.Store.CreateRecordAudited(ctx, r, e)
}

func (w *writeCounter) StageAndAsk(ctx context.Context, id string, s store.Staging, q *store.Request, e *store.AuditEntry) error {
	w.n.Add(1)
	return w.Store.StageAndAsk(ctx, id, s, q, e)
}

func (w *writeCounter) AnswerAndSeal(ctx context.Context, a *store.SealingAnswer, now time.Time) (bool, error) {
	w.n.Add(1)
	return w.Store.AnswerAndSeal(ctx, a, now)
}

func (w *writeCounter) CreateRecord(ctx context.Context, r *store.Record) error {
	w.n.Add(1)
	return w.Store.CreateRecord(ctx, r)
}

func (w *writeCounter) StageRecord(ctx context.Context, id string, s store.Staging) error {
	w.n.Add(1)
	return w.Store.StageRecord(ctx, id, s)
}

func (w *writeCounter) SealRecord(ctx context.Context, id string, s store.Seal, now time.Time) error {
	w.n.Add(1)
	return w.Store.SealRecord(ctx, id, s, now)
}

func (w *writeCounter) CreateRequest(ctx context.Context, q *store.Request) error {
	w.n.Add(1)
	return w.Store.CreateRequest(ctx, q)
}

func (w *writeCounter) AnswerRequest(ctx context.Context, id string, a store.Answer, now time.Time) error {
	w.n.Add(1)
	return w.Store.AnswerRequest(ctx, id, a, now)
}

func (w *writeCounter) MarkProcessed(ctx context.Context, id string) error {
	w.n.Add(1)
	return w.Store.MarkProcessed(ctx, id)
}

func (w *writeCounter) EndRecord(ctx context.Context, id, to string, now time.Time) error {
	w.n.Add(1)
	return w.Store.EndRecord(ctx, id, to, now)
}

func (w *writeCounter) AppendAudit(ctx context.Context, e *store.AuditEntry) (*store.AuditEntry, error) {
	w.n.Add(1)
	return w.Store.AppendAudit(ctx, e)
}

func (w *writeCounter) RememberNonce(ctx context.Context, deviceID, nonce string, expires, now time.Time) error {
	w.n.Add(1)
	return w.Store.RememberNonce(ctx, deviceID, nonce, expires, now)
}

// TestSealWrites: sealing a record on a single node costs three store
// writes (record created; staged with its request; answered and sealed),
// each with its audit entries, and the audit chain holds every event; with
// nodes sharing the store, the two signed device calls add their nonces.
func TestSealWrites(t *testing.T) {
	for _, tc := range []struct {
		single bool
		want   int64
	}{{true, 3}, {false, 5}} {
		wc := &writeCounter{}
		e := newEnv(t, func(c *Config) { c.SingleNode = tc.single }, func(d *Deps) {
			wc.Store = d.Store
			d.Store = wc
		})
		d := e.userWithDevice(t)
		before := wc.count()
		rid := e.createRecord(t, d.userID)
		p := e.upload(t, rid, []byte("four KiB or so"))
		d.answer(t, d.request(t, p.RequestID), threshold.DecisionApprove).want(t, http.StatusOK)
		n := wc.count() - before
		if r := e.record(t, rid, e.writer, ""); r.State != store.RecordSealed {
			t.Fatalf("single node %v: record is %s right after the answer", tc.single, r.State)
		}
		if n != tc.want {
			t.Errorf("single node %v: %d store writes for one sealed record, want %d", tc.single, n, tc.want)
		}
		q, err := e.st.GetRequest(t.Context(), p.RequestID)
		if err != nil || !q.Processed {
			t.Fatalf("request after the answer: %v, %v", q, err)
		}
		entries, err := e.st.AuditEntries(t.Context(), d.userID, 0, store.MaxLimit)
		if err != nil {
			t.Fatal(err)
		}
		var events []string
		for _, en := range entries {
			if en.Subject == rid || en.Subject == p.RequestID {
				events = append(events, en.Event)
			}
		}
		want := []string{store.EventRecordCreated, store.EventApprovalRequested, store.EventApproved, store.EventRecordSealed}
		if len(events) != len(want) {
			t.Fatalf("single node %v: audit events %v, want %v", tc.single, events, want)
		}
		for i := range want {
			if events[i] != want[i] {
				t.Fatalf("single node %v: audit events %v, want %v", tc.single, events, want)
			}
		}
	}
}

func (w *writeCounter) AnswerAndOpen(ctx context.Context, a *store.OpeningAnswer, now time.Time) (bool, error) {
	w.n.Add(1)
	return w.Store.AnswerAndOpen(ctx, a, now)
}

func (w *writeCounter) AskAccess(ctx context.Context, sess *store.Session, q *store.Request, e *store.AuditEntry) error {
	w.n.Add(1)
	return w.Store.AskAccess(ctx, sess, q, e)
}

func (w *writeCounter) CreateSession(ctx context.Context, s *store.Session) error {
	w.n.Add(1)
	return w.Store.CreateSession(ctx, s)
}

func (w *writeCounter) OpenSession(ctx context.Context, id string, o store.SessionOpening, now time.Time) error {
	w.n.Add(1)
	return w.Store.OpenSession(ctx, id, o, now)
}

// TestOpenWrites: an access request is one store write (session, request
// and audit entry), and its approval on a single node one more (answered
// and opened, with both audit entries); the session is open when the
// device hears back and the request processed.
func TestOpenWrites(t *testing.T) {
	wc := &writeCounter{}
	e := newEnv(t, func(c *Config) { c.SingleNode = true }, func(d *Deps) {
		wc.Store = d.Store
		d.Store = wc
	})
	d := e.userWithDevice(t)
	rid := e.sealed(t, d, []byte("open me"))
	before := wc.count()
	p := e.askAccess(t, rid, e.reader)
	if n := wc.count() - before; n != 1 {
		t.Errorf("%d store writes for one access request, want 1", n)
	}
	q := d.request(t, p.RequestID)
	before = wc.count()
	d.answer(t, q, threshold.DecisionApprove).want(t, http.StatusOK)
	if n := wc.count() - before; n != 1 {
		t.Errorf("%d store writes for one access approval, want 1", n)
	}
	if s := e.session(t, p.SessionID, e.reader, ""); s.State != store.SessionOpen {
		t.Fatalf("session is %s right after the answer", s.State)
	}
	if got, err := e.st.GetRequest(t.Context(), p.RequestID); err != nil || !got.Processed {
		t.Fatalf("request after the answer: %v, %v", got, err)
	}
	entries, err := e.st.AuditEntries(t.Context(), d.userID, 0, store.MaxLimit)
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	for _, en := range entries {
		if en.Subject == p.SessionID || en.Subject == p.RequestID {
			events = append(events, en.Event)
		}
	}
	if want := []string{store.EventAccessRequested, store.EventApproved, store.EventSessionOpened}; !slices.Equal(events, want) {
		t.Fatalf("audit events %v, want %v", events, want)
	}
	got := e.do(http.MethodGet, "/v1/sessions/"+p.SessionID+"/content", e.reader, nil).want(t, http.StatusOK)
	if string(got.body) != "open me" {
		t.Fatalf("downloaded %q", got.body)
	}
}

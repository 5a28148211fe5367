package storetest

import (
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// askedSession creates a pending session and its pending access request,
// both expiring at expires.
func askedSession(t *testing.T, s store.Store, expires time.Time) (*store.Session, *store.Request) {
	t.Helper()
	ctx := ctxOf(t)
	sess, q := accessAsk(t, expires)
	want(t, s.CreateSession(ctx, sess), nil, "CreateSession")
	want(t, s.CreateRequest(ctx, q), nil, "CreateRequest")
	return sess, q
}

func openingAnswer(t testing.TB, sess *store.Session, q *store.Request) *store.OpeningAnswer {
	return &store.OpeningAnswer{
		RequestID: q.ID, Answer: newAnswer(t, store.DecisionApprove, t0), AnswerAudit: newAuditEntry(sess.UserID, store.EventApproved, t0),
		SessionID: sess.ID, Opening: newOpening(t, t0.Add(time.Hour), 2), OpenAudit: newAuditEntry(sess.UserID, store.EventSessionOpened, t0),
	}
}

func testCombinedOpen(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	expires := t0.Add(time.Hour)
	sess, q := askedSession(t, s, expires)
	a := openingAnswer(t, sess, q)

	deny := *a
	deny.Answer = newAnswer(t, store.DecisionDeny, t0)
	_, err := s.AnswerAndOpen(ctx, &deny, t0)
	want(t, err, store.ErrInvalid, "AnswerAndOpen of a deny")
	_, err = s.AnswerAndOpen(ctx, nil, t0)
	want(t, err, store.ErrInvalid, "AnswerAndOpen of nothing")
	opened, err := s.AnswerAndOpen(ctx, a, expires)
	want(t, err, store.ErrExpired, "AnswerAndOpen at the request's expiry")
	if opened || getRequest(t, s, q.ID).State != store.RequestPending || getSession(t, s, sess.ID).State != store.SessionPendingApproval {
		t.Fatal("a refused AnswerAndOpen changed something")
	}

	opened, err = s.AnswerAndOpen(ctx, a, t0)
	want(t, err, nil, "AnswerAndOpen")
	if !opened {
		t.Fatal("AnswerAndOpen of a pending session did not open it")
	}
	gotQ := getRequest(t, s, q.ID)
	if gotQ.State != store.RequestApproved || !gotQ.Processed || gotQ.Answer == nil {
		t.Fatalf("request after AnswerAndOpen: %s, processed %v", gotQ.State, gotQ.Processed)
	}
	same(t, gotQ.Answer, &a.Answer, "the answer AnswerAndOpen stored")
	gotS := getSession(t, s, sess.ID)
	if gotS.State != store.SessionOpen || gotS.DownloadsLeft != a.Opening.Downloads || !gotS.ExpiresAt.Equal(a.Opening.ExpiresAt) {
		t.Fatalf("session after AnswerAndOpen: %s, %d downloads, expires %v", gotS.State, gotS.DownloadsLeft, gotS.ExpiresAt)
	}
	same(t, gotS.Approval, a.Opening.Approval, "approval after AnswerAndOpen")
	events := []string{store.EventApproved, store.EventSessionOpened}
	wantEvents(t, s, sess.UserID, events...)

	opened, err = s.AnswerAndOpen(ctx, openingAnswer(t, sess, q), t0)
	want(t, err, store.ErrConflict, "AnswerAndOpen a second time")
	if opened {
		t.Error("a refused AnswerAndOpen said it opened")
	}
	same(t, getRequest(t, s, q.ID).Answer, &a.Answer, "answer after a refused AnswerAndOpen")
	wantEvents(t, s, sess.UserID, events...)
	_, err = s.AnswerAndOpen(ctx, openingAnswer(t, sess, newRequest(t, store.KindAccess, sess.UserID, t0, expires)), t0)
	want(t, err, store.ErrNotFound, "AnswerAndOpen of an unknown request")

	// The session ended meanwhile: the answer is stored, unprocessed, and
	// the session stays as it is.
	s2, q2 := askedSession(t, s, expires)
	want(t, s.EndSession(ctx, s2.ID, store.SessionExpired, t0), nil, "EndSession")
	opened, err = s.AnswerAndOpen(ctx, openingAnswer(t, s2, q2), t0)
	want(t, err, nil, "AnswerAndOpen of an ended session")
	if opened {
		t.Fatal("AnswerAndOpen opened an ended session")
	}
	gotQ = getRequest(t, s, q2.ID)
	if gotQ.State != store.RequestApproved || gotQ.Processed {
		t.Fatalf("request of an ended session after AnswerAndOpen: %s, processed %v", gotQ.State, gotQ.Processed)
	}
	if got := getSession(t, s, s2.ID).State; got != store.SessionExpired {
		t.Fatalf("ended session after AnswerAndOpen: %s", got)
	}
	wantEvents(t, s, s2.UserID, store.EventApproved)
}

// openContest: racers answer one access request with AnswerAndOpen,
// AnswerRequest or ExpireRequest; exactly one wins, and the session is open
// only if an AnswerAndOpen won.
func openContest() contest {
	return contest{"AnswerAndOpen, AnswerRequest or ExpireRequest", 1, func(t *testing.T, s store.Store, n int) (attempt, check) {
		sess, q := askedSession(t, s, t0.Add(time.Hour))
		answers := make([]*store.OpeningAnswer, n)
		for i := range answers {
			answers[i] = openingAnswer(t, sess, q)
		}
		return func(i int) error {
				switch i % 3 {
				case 0:
					opened, err := s.AnswerAndOpen(ctxOf(t), answers[i], t0)
					if err == nil && !opened {
						t.Errorf("racer %d answered but did not open", i)
					}
					return err
				case 1:
					return s.AnswerRequest(ctxOf(t), q.ID, answers[i].Answer, t0)
				}
				return s.ExpireRequest(ctxOf(t), q.ID, t0)
			}, func(t *testing.T, w []int) {
				got := getSession(t, s, sess.ID)
				if (got.State == store.SessionOpen) != (w[0]%3 == 0) {
					t.Fatalf("racer %d won and the session is %s", w[0], got.State)
				}
			}
	}}
}

// accessAsk returns a new pending session and its access request.
func accessAsk(t *testing.T, expires time.Time) (*store.Session, *store.Request) {
	sess := newSession(t, newID(t, ids.User), t0, expires)
	q := newRequest(t, store.KindAccess, sess.UserID, t0, expires)
	q.SessionID, q.RecordID, sess.RequestID = sess.ID, sess.RecordID, q.ID
	return sess, q
}

func testCombinedAsk(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	expires := t0.Add(time.Hour)
	sess, q := accessAsk(t, expires)
	entry := newAuditEntry(sess.UserID, store.EventAccessRequested, t0)

	// Not the session's access request: refused, nothing written.
	for name, edit := range map[string]func(q *store.Request){
		"kind":       func(q *store.Request) { q.Kind, q.SessionID = store.KindCreate, "" },
		"session id": func(q *store.Request) { q.SessionID = newID(t, ids.Session) },
		"record id":  func(q *store.Request) { q.RecordID = newRecordID(t, t0) },
	} {
		bad := *q
		edit(&bad)
		want(t, s.AskAccess(ctx, sess, &bad, entry), store.ErrInvalid, "AskAccess with another %s", name)
	}
	_, err := s.GetSession(ctx, sess.ID)
	want(t, err, store.ErrNotFound, "the session of a refused AskAccess")

	// The request id exists: the session is absent, or (a store without
	// multi-document transactions) expired again, so that it never opens.
	taken := createRequest(t, s, newRequest(t, store.KindAccess, sess.UserID, t0, expires))
	s2, q2 := accessAsk(t, expires)
	q2.ID, s2.RequestID = taken.ID, taken.ID
	want(t, s.AskAccess(ctx, s2, q2, newAuditEntry(s2.UserID, store.EventAccessRequested, t0)), store.ErrConflict, "AskAccess with an existing request id")
	if got, err := s.GetSession(ctx, s2.ID); err == nil && got.State != store.SessionExpired {
		t.Fatalf("the session of a refused AskAccess is %s", got.State)
	} else if err != nil {
		want(t, err, store.ErrNotFound, "the session of a refused AskAccess")
	}
	wantEvents(t, s, s2.UserID)

	want(t, s.AskAccess(ctx, sess, q, entry), nil, "AskAccess")
	wantS := *sess
	wantS.State = store.SessionPendingApproval
	same(t, getSession(t, s, sess.ID), &wantS, "session after AskAccess")
	wantQ := *q
	wantQ.State = store.RequestPending
	same(t, getRequest(t, s, q.ID), &wantQ, "request after AskAccess")
	wantEvents(t, s, sess.UserID, store.EventAccessRequested)

	// The session id exists: refused, its request not stored.
	_, q3 := accessAsk(t, expires)
	q3.SessionID, q3.RecordID, q3.UserID = sess.ID, sess.RecordID, sess.UserID
	again := *sess
	again.RequestID = q3.ID
	want(t, s.AskAccess(ctx, &again, q3, entry), store.ErrConflict, "AskAccess with an existing session id")
	_, err = s.GetRequest(ctx, q3.ID)
	want(t, err, store.ErrNotFound, "the request of a refused AskAccess")
	wantEvents(t, s, sess.UserID, store.EventAccessRequested)
}

package storetest

import (
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// askFor returns a create request about record r matching staging st.
func askFor(t testing.TB, r *store.Record, st store.Staging) *store.Request {
	q := newRequest(t, store.KindCreate, r.UserID, t0, st.ExpiresAt)
	q.ID, q.RecordID = st.RequestID, r.ID
	return q
}

// wantEvents checks the events of user's audit chain, in order.
func wantEvents(t *testing.T, s store.Store, user string, events ...string) {
	t.Helper()
	var got []string
	for _, e := range auditChain(t, s, user) {
		got = append(got, e.Event)
	}
	same(t, got, events, "audit events of %s", user)
}

// askedRecord creates and stages a record with StageAndAsk.
func askedRecord(t *testing.T, s store.Store, expires time.Time) (*store.Record, *store.Request) {
	t.Helper()
	r := newRecord(t, newID(t, ids.User), newID(t, ids.Client), t0)
	want(t, s.CreateRecordAudited(ctxOf(t), r, newAuditEntry(r.UserID, store.EventRecordCreated, t0)), nil, "CreateRecordAudited")
	st := newStaging(t, r.ID, expires)
	q := askFor(t, r, st)
	want(t, s.StageAndAsk(ctxOf(t), r.ID, st, q, newAuditEntry(r.UserID, store.EventApprovalRequested, t0)), nil, "StageAndAsk")
	return r, q
}

func sealingAnswer(t testing.TB, r *store.Record, q *store.Request) *store.SealingAnswer {
	return &store.SealingAnswer{
		RequestID: q.ID, Answer: newAnswer(t, store.DecisionApprove, t0), AnswerAudit: newAuditEntry(r.UserID, store.EventApproved, t0),
		RecordID: r.ID, Seal: newSeal(t), SealAudit: newAuditEntry(r.UserID, store.EventRecordSealed, t0),
	}
}

func testCombinedCreate(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	r := newRecord(t, newID(t, ids.User), newID(t, ids.Client), t0)
	want(t, s.CreateRecordAudited(ctx, r, newAuditEntry(r.UserID, store.EventRecordCreated, t0)), nil, "CreateRecordAudited")
	wantR := *r
	wantR.State = store.RecordAwaitingUpload
	same(t, getRecord(t, s, r.ID), &wantR, "GetRecord after CreateRecordAudited")
	wantEvents(t, s, r.UserID, store.EventRecordCreated)
	want(t, s.CreateRecordAudited(ctx, r, newAuditEntry(r.UserID, store.EventRecordCreated, t0)), store.ErrConflict,
		"CreateRecordAudited with an existing id")
	wantEvents(t, s, r.UserID, store.EventRecordCreated)
	bad := newRecord(t, r.UserID, r.ClientID, t0)
	want(t, s.CreateRecordAudited(ctx, bad, &store.AuditEntry{UserID: r.UserID}), store.ErrInvalid, "CreateRecordAudited with a bad entry")
	want(t, s.CreateRecordAudited(ctx, bad, nil), store.ErrInvalid, "CreateRecordAudited without an entry")
	_, err := s.GetRecord(ctx, bad.ID)
	want(t, err, store.ErrNotFound, "a record refused by CreateRecordAudited")
}

func testCombinedStage(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	r := newRecord(t, newID(t, ids.User), newID(t, ids.Client), t0)
	want(t, s.CreateRecord(ctx, r), nil, "CreateRecord")
	expires := t0.Add(time.Hour)
	st := newStaging(t, r.ID, expires)
	q := askFor(t, r, st)
	entry := newAuditEntry(r.UserID, store.EventApprovalRequested, t0)

	// Mismatched request, or an id that exists: refused, nothing changed.
	other := askFor(t, r, newStaging(t, r.ID, expires))
	want(t, s.StageAndAsk(ctx, r.ID, st, other, entry), store.ErrInvalid, "StageAndAsk with another request id")
	taken := createRequest(t, s, newRequest(t, store.KindCreate, r.UserID, t0, expires))
	st2 := st
	st2.RequestID = taken.ID
	q2 := askFor(t, r, st2)
	want(t, s.StageAndAsk(ctx, r.ID, st2, q2, entry), store.ErrConflict, "StageAndAsk with an existing request id")
	if got := getRecord(t, s, r.ID); got.State != store.RecordAwaitingUpload {
		t.Fatalf("record after a refused StageAndAsk: %s", got.State)
	}
	wantEvents(t, s, r.UserID)
	unknown := newRecord(t, r.UserID, r.ClientID, t0)
	stU := newStaging(t, unknown.ID, expires)
	want(t, s.StageAndAsk(ctx, unknown.ID, stU, askFor(t, unknown, stU), entry), store.ErrNotFound, "StageAndAsk of an unknown record")

	want(t, s.StageAndAsk(ctx, r.ID, st, q, entry), nil, "StageAndAsk")
	got := getRecord(t, s, r.ID)
	if got.State != store.RecordPendingApproval || got.RequestID != q.ID || !got.ExpiresAt.Equal(expires) {
		t.Fatalf("record after StageAndAsk: %s, request %s, expires %v", got.State, got.RequestID, got.ExpiresAt)
	}
	wantQ := *q
	wantQ.State = store.RequestPending
	same(t, getRequest(t, s, q.ID), &wantQ, "request after StageAndAsk")
	wantEvents(t, s, r.UserID, store.EventApprovalRequested)

	// A second time: the record is no longer awaiting upload.
	st3 := newStaging(t, r.ID, expires)
	q3 := askFor(t, r, st3)
	want(t, s.StageAndAsk(ctx, r.ID, st3, q3, entry), store.ErrConflict, "StageAndAsk a second time")
	// Absent, or (a store without multi-document transactions) expired
	// again, so that it is never answered.
	if got, err := s.GetRequest(ctx, q3.ID); err == nil && got.State != store.RequestExpired {
		t.Fatalf("the request of a refused StageAndAsk is %s", got.State)
	} else if err != nil {
		want(t, err, store.ErrNotFound, "the request of a refused StageAndAsk")
	}
	wantEvents(t, s, r.UserID, store.EventApprovalRequested)
}

func testCombinedSeal(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	expires := t0.Add(time.Hour)
	r, q := askedRecord(t, s, expires)
	a := sealingAnswer(t, r, q)

	deny := *a
	deny.Answer = newAnswer(t, store.DecisionDeny, t0)
	_, err := s.AnswerAndSeal(ctx, &deny, t0)
	want(t, err, store.ErrInvalid, "AnswerAndSeal of a deny")
	_, err = s.AnswerAndSeal(ctx, nil, t0)
	want(t, err, store.ErrInvalid, "AnswerAndSeal of nothing")
	sealed, err := s.AnswerAndSeal(ctx, a, expires)
	want(t, err, store.ErrExpired, "AnswerAndSeal at the request's expiry")
	if sealed || getRequest(t, s, q.ID).State != store.RequestPending || getRecord(t, s, r.ID).State != store.RecordPendingApproval {
		t.Fatal("a refused AnswerAndSeal changed something")
	}

	sealed, err = s.AnswerAndSeal(ctx, a, t0)
	want(t, err, nil, "AnswerAndSeal")
	if !sealed {
		t.Fatal("AnswerAndSeal of a sealable record did not seal it")
	}
	gotQ := getRequest(t, s, q.ID)
	if gotQ.State != store.RequestApproved || !gotQ.Processed || gotQ.Answer == nil {
		t.Fatalf("request after AnswerAndSeal: %s, processed %v", gotQ.State, gotQ.Processed)
	}
	same(t, gotQ.Answer, &a.Answer, "the answer AnswerAndSeal stored")
	gotR := getRecord(t, s, r.ID)
	if gotR.State != store.RecordSealed {
		t.Fatalf("record after AnswerAndSeal: %s", gotR.State)
	}
	same(t, gotR.WrappedDEK, a.Seal.WrappedDEK, "wrapped key after AnswerAndSeal")
	same(t, gotR.Approval, a.Seal.Approval, "approval after AnswerAndSeal")
	events := []string{store.EventRecordCreated, store.EventApprovalRequested, store.EventApproved, store.EventRecordSealed}
	wantEvents(t, s, r.UserID, events...)

	again := sealingAnswer(t, r, q)
	sealed, err = s.AnswerAndSeal(ctx, again, t0)
	want(t, err, store.ErrConflict, "AnswerAndSeal a second time")
	if sealed {
		t.Error("a refused AnswerAndSeal said it sealed")
	}
	same(t, getRequest(t, s, q.ID).Answer, &a.Answer, "answer after a refused AnswerAndSeal")
	wantEvents(t, s, r.UserID, events...)
	_, err = s.AnswerAndSeal(ctx, sealingAnswer(t, r, newRequest(t, store.KindCreate, r.UserID, t0, expires)), t0)
	want(t, err, store.ErrNotFound, "AnswerAndSeal of an unknown request")

	// The record ended meanwhile: the answer is stored, unprocessed, and
	// the record stays as it is.
	r2, q2 := askedRecord(t, s, expires)
	want(t, s.EndRecord(ctx, r2.ID, store.RecordExpired, t0), nil, "EndRecord")
	sealed, err = s.AnswerAndSeal(ctx, sealingAnswer(t, r2, q2), t0)
	want(t, err, nil, "AnswerAndSeal of an ended record")
	if sealed {
		t.Fatal("AnswerAndSeal sealed an ended record")
	}
	gotQ = getRequest(t, s, q2.ID)
	if gotQ.State != store.RequestApproved || gotQ.Processed {
		t.Fatalf("request of an ended record after AnswerAndSeal: %s, processed %v", gotQ.State, gotQ.Processed)
	}
	if got := getRecord(t, s, r2.ID).State; got != store.RecordExpired {
		t.Fatalf("ended record after AnswerAndSeal: %s", got)
	}
	wantEvents(t, s, r2.UserID, store.EventRecordCreated, store.EventApprovalRequested, store.EventApproved)
	answered, err := s.AnsweredRequests(ctx, q2.OwnerNode, store.MaxLimit)
	want(t, err, nil, "AnsweredRequests")
	if len(answered) != 1 || answered[0].ID != q2.ID {
		t.Fatalf("answered, unprocessed requests: %v", requestIDs(answered))
	}
}

// sealContest: racers answer one request with AnswerAndSeal, AnswerRequest
// or ExpireRequest; exactly one wins, and the record is sealed only if an
// AnswerAndSeal won.
func sealContest() contest {
	return contest{"AnswerAndSeal, AnswerRequest or ExpireRequest", 1, func(t *testing.T, s store.Store, n int) (attempt, check) {
		r, q := askedRecord(t, s, t0.Add(time.Hour))
		answers := make([]*store.SealingAnswer, n)
		for i := range answers {
			answers[i] = sealingAnswer(t, r, q)
		}
		return func(i int) error {
				switch i % 3 {
				case 0:
					sealed, err := s.AnswerAndSeal(ctxOf(t), answers[i], t0)
					if err == nil && !sealed {
						t.Errorf("racer %d answered but did not seal", i)
					}
					return err
				case 1:
					return s.AnswerRequest(ctxOf(t), q.ID, answers[i].Answer, t0)
				}
				return s.ExpireRequest(ctxOf(t), q.ID, t0)
			}, func(t *testing.T, w []int) {
				rec := getRecord(t, s, r.ID)
				if (rec.State == store.RecordSealed) != (w[0]%3 == 0) {
					t.Fatalf("racer %d won and the record is %s", w[0], rec.State)
				}
			}
	}}
}

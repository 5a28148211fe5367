package storetest

import (
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

func getRequest(t *testing.T, s store.Store, id string) *store.Request {
	t.Helper()
	return mustGet(t, "GetRequest", s.GetRequest, id)
}

func createRequest(t *testing.T, s store.Store, q *store.Request) *store.Request {
	t.Helper()
	want(t, s.CreateRequest(ctxOf(t), q), nil, "CreateRequest")
	w := *q
	w.State = store.RequestPending
	return &w
}

func testRequests(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	user := newID(t, ids.User)
	expires := t0.Add(5 * time.Minute)

	c := newRequest(t, store.KindCreate, user, t0, expires)
	wantC := createRequest(t, s, c)
	same(t, getRequest(t, s, c.ID), wantC, "GetRequest of a create request")
	want(t, s.CreateRequest(ctx, c), store.ErrConflict, "CreateRequest with an existing id")
	a := newRequest(t, store.KindAccess, user, t0, expires)
	a.Record.ContentSHA256 = nil
	wantA := createRequest(t, s, a)
	same(t, getRequest(t, s, a.ID), wantA, "GetRequest of an access request")

	// Approve: once, only before the expiry; a refused answer writes nothing.
	ans := newAnswer(t, store.DecisionApprove, t0.Add(time.Minute))
	want(t, s.AnswerRequest(ctx, c.ID, ans, expires), store.ErrExpired, "AnswerRequest at the expiry")
	same(t, getRequest(t, s, c.ID), wantC, "GetRequest after a refused answer")
	want(t, s.AnswerRequest(ctx, c.ID, ans, expires.Add(-time.Second)), nil, "AnswerRequest approve")
	wantC.State, wantC.Answer = store.RequestApproved, &ans
	same(t, getRequest(t, s, c.ID), wantC, "GetRequest after approval")
	for _, d := range []string{store.DecisionApprove, store.DecisionDeny} {
		want(t, s.AnswerRequest(ctx, c.ID, newAnswer(t, d, t0), t0), store.ErrConflict, "a second answer (%s)", d)
	}
	want(t, s.ExpireRequest(ctx, c.ID, expires), store.ErrConflict, "ExpireRequest of an answered request")
	same(t, getRequest(t, s, c.ID), wantC, "GetRequest after refused transitions")

	// Deny: no evaluated elements, no proof.
	deny := newAnswer(t, store.DecisionDeny, t0)
	want(t, s.AnswerRequest(ctx, a.ID, deny, t0), nil, "AnswerRequest deny")
	wantA.State, wantA.Answer = store.RequestDenied, &deny
	same(t, getRequest(t, s, a.ID), wantA, "GetRequest after denial")

	// Processed: once, and only once answered.
	want(t, s.MarkProcessed(ctx, c.ID), nil, "MarkProcessed")
	wantC.Processed = true
	same(t, getRequest(t, s, c.ID), wantC, "GetRequest after MarkProcessed")
	want(t, s.MarkProcessed(ctx, c.ID), store.ErrConflict, "MarkProcessed a second time")
	p := newRequest(t, store.KindCreate, user, t0, expires)
	wantP := createRequest(t, s, p)
	want(t, s.MarkProcessed(ctx, p.ID), store.ErrConflict, "MarkProcessed of a pending request")

	// Expire: once; then no answer.
	want(t, s.ExpireRequest(ctx, p.ID, expires), nil, "ExpireRequest")
	wantP.State = store.RequestExpired
	same(t, getRequest(t, s, p.ID), wantP, "GetRequest after ExpireRequest")
	want(t, s.ExpireRequest(ctx, p.ID, expires), store.ErrConflict, "ExpireRequest a second time")
	want(t, s.AnswerRequest(ctx, p.ID, newAnswer(t, store.DecisionApprove, t0), t0), store.ErrConflict, "AnswerRequest of an expired request")
	want(t, s.MarkProcessed(ctx, p.ID), store.ErrConflict, "MarkProcessed of an expired request")

	unknown := newID(t, ids.Request)
	_, err := s.GetRequest(ctx, unknown)
	want(t, err, store.ErrNotFound, "GetRequest of an unknown id")
	want(t, s.AnswerRequest(ctx, unknown, ans, t0), store.ErrNotFound, "AnswerRequest of an unknown id")
	want(t, s.ExpireRequest(ctx, unknown, t0), store.ErrNotFound, "ExpireRequest of an unknown id")
	want(t, s.MarkProcessed(ctx, unknown), store.ErrNotFound, "MarkProcessed of an unknown id")

	for name, edit := range map[string]func(q *store.Request){
		"kind":               func(q *store.Request) { q.Kind = "delete" },
		"state":              func(q *store.Request) { q.State = store.RequestApproved },
		"answer":             func(q *store.Request) { a := newAnswer(t, store.DecisionDeny, t0); q.Answer = &a },
		"processed":          func(q *store.Request) { q.Processed = true },
		"session for create": func(q *store.Request) { q.SessionID = newID(t, ids.Session) },
		"record id":          func(q *store.Request) { q.RecordID = newID(t, ids.Request) },
		"key id":             func(q *store.Request) { q.DeviceKeyID = "" },
		"requester":          func(q *store.Request) { q.Requester.ID = "" },
		"digest":             func(q *store.Request) { q.Record.ContentSHA256 = random(20) },
		"size":               func(q *store.Request) { q.Record.Size = -1 },
		"no elements":        func(q *store.Request) { q.BlindedElements = nil },
		"too many elements":  func(q *store.Request) { q.BlindedElements = randomList(store.MaxListLen+1, 32) },
		"no expiry":          func(q *store.Request) { q.ExpiresAt = time.Time{} },
	} {
		bad := newRequest(t, store.KindCreate, user, t0, expires)
		edit(bad)
		want(t, s.CreateRequest(ctx, bad), store.ErrInvalid, "CreateRequest with a bad %s", name)
		_, err := s.GetRequest(ctx, bad.ID)
		want(t, err, store.ErrNotFound, "GetRequest of a request refused for its %s", name)
	}
	noSession := newRequest(t, store.KindAccess, user, t0, expires)
	noSession.SessionID = ""
	want(t, s.CreateRequest(ctx, noSession), store.ErrInvalid, "CreateRequest access without a session")
	want(t, s.CreateRequest(ctx, nil), store.ErrInvalid, "CreateRequest(nil)")

	q := newRequest(t, store.KindCreate, user, t0, expires)
	wantQ := createRequest(t, s, q)
	for name, edit := range map[string]func(a *store.Answer){
		"decision":          func(a *store.Answer) { a.Decision = "maybe" },
		"approve, no proof": func(a *store.Answer) { a.Proof = nil },
		"approve, no elems": func(a *store.Answer) { a.EvaluatedElements = nil },
		"signature":         func(a *store.Answer) { a.Approval.Signature = nil },
		"device":            func(a *store.Answer) { a.Approval.DeviceID = "dev_x" },
		"time":              func(a *store.Answer) { a.AnsweredAt = time.Time{} },
	} {
		x := newAnswer(t, store.DecisionApprove, t0)
		edit(&x)
		want(t, s.AnswerRequest(ctx, q.ID, x, t0), store.ErrInvalid, "AnswerRequest with a bad %s", name)
	}
	x := newAnswer(t, store.DecisionDeny, t0)
	x.Proof = random(64)
	want(t, s.AnswerRequest(ctx, q.ID, x, t0), store.ErrInvalid, "AnswerRequest deny with a proof")
	same(t, getRequest(t, s, q.ID), wantQ, "GetRequest after refused answers")
}

func testRequestLists(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	user, other := newID(t, ids.User), newID(t, ids.User)
	now := t0.Add(time.Hour)
	mk := func(user, node string, created, expires time.Time) *store.Request {
		q := newRequest(t, store.KindCreate, user, created, expires)
		q.OwnerNode = node
		return createRequest(t, s, q)
	}
	// Pending and unexpired, created in this order but inserted out of it.
	live2 := mk(user, "node-a", t0.Add(2*time.Minute), now.Add(time.Minute))
	live1 := mk(user, "node-b", t0.Add(1*time.Minute), now.Add(2*time.Minute))
	live3 := mk(user, "node-a", t0.Add(3*time.Minute), now.Add(3*time.Minute))
	// Pending and expired at now (expiring at now counts as expired).
	due2 := mk(user, "node-a", t0.Add(5*time.Minute), now)
	due1 := mk(other, "node-b", t0.Add(6*time.Minute), now.Add(-time.Minute))
	// Answered ones.
	appr := mk(user, "node-a", t0.Add(7*time.Minute), now.Add(time.Hour))
	want(t, s.AnswerRequest(ctx, appr.ID, newAnswer(t, store.DecisionApprove, now), now), nil, "AnswerRequest")
	den := mk(user, "node-a", t0.Add(4*time.Minute), now.Add(time.Hour))
	want(t, s.AnswerRequest(ctx, den.ID, newAnswer(t, store.DecisionDeny, now), now), nil, "AnswerRequest")
	done := mk(user, "node-a", t0.Add(8*time.Minute), now.Add(time.Hour))
	want(t, s.AnswerRequest(ctx, done.ID, newAnswer(t, store.DecisionDeny, now), now), nil, "AnswerRequest")
	want(t, s.MarkProcessed(ctx, done.ID), nil, "MarkProcessed")
	gone := mk(user, "node-a", t0, now.Add(time.Hour))
	want(t, s.ExpireRequest(ctx, gone.ID, now), nil, "ExpireRequest")
	mk(other, "node-a", t0, now.Add(time.Hour))

	got, err := s.PendingRequests(ctx, user, now, 10)
	want(t, err, nil, "PendingRequests")
	same(t, requestIDs(got), []string{live1.ID, live2.ID, live3.ID}, "PendingRequests, oldest first")
	same(t, got[0], live1, "PendingRequests item")
	got, err = s.PendingRequests(ctx, user, now, 2)
	want(t, err, nil, "PendingRequests")
	same(t, requestIDs(got), []string{live1.ID, live2.ID}, "PendingRequests with limit 2")
	n, err := s.CountPendingRequests(ctx, user, now)
	want(t, err, nil, "CountPendingRequests")
	if n != 3 {
		t.Fatalf("CountPendingRequests = %d, want 3", n)
	}
	n, err = s.CountPendingRequests(ctx, user, t0)
	want(t, err, nil, "CountPendingRequests")
	if n != 4 {
		t.Fatalf("CountPendingRequests at an earlier time = %d, want 4", n)
	}

	got, err = s.RequestsToExpire(ctx, now, 10)
	want(t, err, nil, "RequestsToExpire")
	same(t, requestIDs(got), []string{due1.ID, due2.ID}, "RequestsToExpire, earliest expiry first")
	got, err = s.RequestsToExpire(ctx, now, 1)
	want(t, err, nil, "RequestsToExpire")
	same(t, requestIDs(got), []string{due1.ID}, "RequestsToExpire with limit 1")

	got, err = s.AnsweredRequests(ctx, "node-a", 10)
	want(t, err, nil, "AnsweredRequests")
	same(t, requestIDs(got), []string{den.ID, appr.ID}, "AnsweredRequests, oldest first, processed left out")
	if got[0].Answer == nil || got[0].Answer.Decision != store.DecisionDeny {
		t.Fatalf("AnsweredRequests item without its answer: %+v", got[0].Answer)
	}
	got, err = s.AnsweredRequests(ctx, "node-b", 10)
	want(t, err, nil, "AnsweredRequests")
	same(t, requestIDs(got), []string{}, "AnsweredRequests of a node without answers")
	want(t, s.MarkProcessed(ctx, den.ID), nil, "MarkProcessed")
	got, err = s.AnsweredRequests(ctx, "node-a", 10)
	want(t, err, nil, "AnsweredRequests")
	same(t, requestIDs(got), []string{appr.ID}, "AnsweredRequests after MarkProcessed")

	got, err = s.PendingOwnedBy(ctx, "node-b", 10)
	want(t, err, nil, "PendingOwnedBy")
	same(t, requestIDs(got), []string{live1.ID, due1.ID}, "PendingOwnedBy, expired ones included")
	got, err = s.PendingOwnedBy(ctx, "node-a", 2)
	want(t, err, nil, "PendingOwnedBy")
	if len(got) != 2 {
		t.Fatalf("PendingOwnedBy with limit 2: %d", len(got))
	}

	for name, f := range map[string]func() error{
		"PendingRequests limit 0":      func() error { _, err := s.PendingRequests(ctx, user, now, 0); return err },
		"PendingRequests bad user":     func() error { _, err := s.PendingRequests(ctx, "usr_", now, 1); return err },
		"PendingRequests no time":      func() error { _, err := s.PendingRequests(ctx, user, time.Time{}, 1); return err },
		"CountPendingRequests no user": func() error { _, err := s.CountPendingRequests(ctx, "", now); return err },
		"RequestsToExpire limit -1":    func() error { _, err := s.RequestsToExpire(ctx, now, -1); return err },
		"AnsweredRequests over max":    func() error { _, err := s.AnsweredRequests(ctx, "n", store.MaxLimit+1); return err },
		"PendingOwnedBy bad node":      func() error { _, err := s.PendingOwnedBy(ctx, "\xff", 1); return err },
	} {
		want(t, f(), store.ErrInvalid, "%s", name)
	}
}

func requestIDs(qs []*store.Request) []string {
	out := make([]string, len(qs))
	for i, q := range qs {
		out[i] = q.ID
	}
	return out
}

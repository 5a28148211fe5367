package storetest

import (
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

func getSession(t *testing.T, s store.Store, id string) *store.Session {
	t.Helper()
	return mustGet(t, "GetSession", s.GetSession, id)
}

func createSession(t *testing.T, s store.Store, x *store.Session) *store.Session {
	t.Helper()
	want(t, s.CreateSession(ctxOf(t), x), nil, "CreateSession")
	w := *x
	w.State = store.SessionPendingApproval
	return &w
}

// openSession creates a session and opens it with downloads, open until
// expires.
func openSession(t *testing.T, s store.Store, user string, expires time.Time, downloads int) *store.Session {
	t.Helper()
	x := newSession(t, user, t0, t0.Add(5*time.Minute))
	createSession(t, s, x)
	want(t, s.OpenSession(ctxOf(t), x.ID, newOpening(t, expires, downloads), t0), nil, "OpenSession")
	return x
}

func testSessions(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	user := newID(t, ids.User)
	approvalDeadline := t0.Add(5 * time.Minute)
	x := newSession(t, user, t0, approvalDeadline)
	wantX := createSession(t, s, x)
	same(t, getSession(t, s, x.ID), wantX, "GetSession")
	want(t, s.CreateSession(ctx, x), store.ErrConflict, "CreateSession with an existing id")
	_, err := s.UseDownload(ctx, x.ID, t0)
	want(t, err, store.ErrConflict, "UseDownload of a session pending approval")

	openUntil := t0.Add(time.Hour)
	o := newOpening(t, openUntil, 3)
	want(t, s.OpenSession(ctx, x.ID, o, approvalDeadline), store.ErrExpired, "OpenSession at the approval deadline")
	same(t, getSession(t, s, x.ID), wantX, "GetSession after a refused OpenSession")
	want(t, s.OpenSession(ctx, x.ID, o, approvalDeadline.Add(-time.Second)), nil, "OpenSession")
	wantX.State, wantX.ExpiresAt, wantX.DownloadsLeft, wantX.Approval, wantX.OpenedAt = store.SessionOpen, openUntil, 3, o.Approval, o.OpenedAt
	same(t, getSession(t, s, x.ID), wantX, "GetSession after OpenSession")
	want(t, s.OpenSession(ctx, x.ID, newOpening(t, openUntil, 9), t0), store.ErrConflict, "OpenSession a second time")

	// Downloads: refused at the expiry without taking one, then counted
	// down; the last one consumes the session.
	_, err = s.UseDownload(ctx, x.ID, openUntil)
	want(t, err, store.ErrExpired, "UseDownload at the expiry")
	same(t, getSession(t, s, x.ID), wantX, "GetSession after a refused UseDownload")
	for n := 2; n >= 0; n-- {
		left, err := s.UseDownload(ctx, x.ID, openUntil.Add(-time.Second))
		if err != nil || left != n {
			t.Fatalf("UseDownload = %d, %v; want %d", left, err, n)
		}
	}
	wantX.State, wantX.DownloadsLeft = store.SessionConsumed, 0
	same(t, getSession(t, s, x.ID), wantX, "GetSession after the last download")
	_, err = s.UseDownload(ctx, x.ID, t0)
	want(t, err, store.ErrConflict, "UseDownload of a consumed session")
	want(t, s.EndSession(ctx, x.ID, store.SessionExpired, t0), store.ErrConflict, "EndSession of a consumed session")

	// Ends.
	d := newSession(t, user, t0, approvalDeadline)
	createSession(t, s, d)
	want(t, s.EndSession(ctx, d.ID, store.SessionOpen, t0), store.ErrInvalid, "EndSession to open")
	want(t, s.EndSession(ctx, d.ID, store.SessionPendingApproval, t0), store.ErrInvalid, "EndSession to pending_approval")
	want(t, s.EndSession(ctx, d.ID, store.SessionDenied, t0), nil, "EndSession denied")
	if got := getSession(t, s, d.ID).State; got != store.SessionDenied {
		t.Fatalf("state after EndSession: %s", got)
	}
	want(t, s.OpenSession(ctx, d.ID, newOpening(t, openUntil, 1), t0), store.ErrConflict, "OpenSession of a denied session")
	want(t, s.EndSession(ctx, d.ID, store.SessionExpired, t0), store.ErrConflict, "EndSession of a denied session")
	e := openSession(t, s, user, openUntil, 2)
	want(t, s.EndSession(ctx, e.ID, store.SessionConsumed, t0), nil, "EndSession consumed from open")
	_, err = s.UseDownload(ctx, e.ID, t0)
	want(t, err, store.ErrConflict, "UseDownload of an ended session")

	unknown := newID(t, ids.Session)
	_, err = s.GetSession(ctx, unknown)
	want(t, err, store.ErrNotFound, "GetSession of an unknown id")
	want(t, s.OpenSession(ctx, unknown, o, t0), store.ErrNotFound, "OpenSession of an unknown id")
	want(t, s.EndSession(ctx, unknown, store.SessionDenied, t0), store.ErrNotFound, "EndSession of an unknown id")
	_, err = s.UseDownload(ctx, unknown, t0)
	want(t, err, store.ErrNotFound, "UseDownload of an unknown id")

	for name, edit := range map[string]func(x *store.Session){
		"state":      func(x *store.Session) { x.State = store.SessionOpen },
		"downloads":  func(x *store.Session) { x.DownloadsLeft = 1 },
		"approval":   func(x *store.Session) { x.Approval = newApproval(t) },
		"opened at":  func(x *store.Session) { x.OpenedAt = t0 },
		"record id":  func(x *store.Session) { x.RecordID = "not-a-uuid" },
		"requester":  func(x *store.Session) { x.RequesterID = newID(t, ids.Device) },
		"request id": func(x *store.Session) { x.RequestID = "" },
		"no expiry":  func(x *store.Session) { x.ExpiresAt = time.Time{} },
	} {
		bad := newSession(t, user, t0, approvalDeadline)
		edit(bad)
		want(t, s.CreateSession(ctx, bad), store.ErrInvalid, "CreateSession with a bad %s", name)
		_, err := s.GetSession(ctx, bad.ID)
		want(t, err, store.ErrNotFound, "GetSession of a session refused for its %s", name)
	}
	want(t, s.CreateSession(ctx, nil), store.ErrInvalid, "CreateSession(nil)")
	p := newSession(t, user, t0, approvalDeadline)
	wantP := createSession(t, s, p)
	for name, edit := range map[string]func(o *store.SessionOpening){
		"no downloads": func(o *store.SessionOpening) { o.Downloads = 0 },
		"negative":     func(o *store.SessionOpening) { o.Downloads = -1 },
		"no expiry":    func(o *store.SessionOpening) { o.ExpiresAt = time.Time{} },
		"approval":     func(o *store.SessionOpening) { o.Approval.Statement = nil },
		"opened at":    func(o *store.SessionOpening) { o.OpenedAt = time.Time{} },
	} {
		o := newOpening(t, openUntil, 1)
		edit(&o)
		want(t, s.OpenSession(ctx, p.ID, o, t0), store.ErrInvalid, "OpenSession with a bad %s", name)
	}
	same(t, getSession(t, s, p.ID), wantP, "GetSession after refused OpenSession calls")
}

func testSessionsToExpire(t *testing.T, s store.Store) {
	ctx := ctxOf(t)
	user := newID(t, ids.User)
	now := t0.Add(time.Hour)
	pending := func(expires time.Time) string {
		x := newSession(t, user, t0, expires)
		createSession(t, s, x)
		return x.ID
	}
	p2, p0 := pending(now.Add(-2*time.Minute)), pending(now)
	o1 := openSession(t, s, user, now.Add(-time.Minute), 1).ID
	o3 := openSession(t, s, user, now.Add(-3*time.Minute), 1).ID
	pending(now.Add(time.Second))
	openSession(t, s, user, now.Add(time.Hour), 1)
	denied := pending(now.Add(-time.Hour))
	want(t, s.EndSession(ctx, denied, store.SessionDenied, t0), nil, "EndSession")
	consumed := openSession(t, s, user, now.Add(-30*time.Minute), 1).ID
	_, err := s.UseDownload(ctx, consumed, t0)
	want(t, err, nil, "UseDownload")

	got, err := s.SessionsToExpire(ctx, now, 10)
	want(t, err, nil, "SessionsToExpire")
	same(t, sessionIDs(got), []string{o3, p2, o1, p0}, "SessionsToExpire, earliest expiry first")
	got, err = s.SessionsToExpire(ctx, now, 3)
	want(t, err, nil, "SessionsToExpire")
	same(t, sessionIDs(got), []string{o3, p2, o1}, "SessionsToExpire with limit 3")
	_, err = s.SessionsToExpire(ctx, now, 0)
	want(t, err, store.ErrInvalid, "SessionsToExpire with limit 0")
	_, err = s.SessionsToExpire(ctx, time.Time{}, 1)
	want(t, err, store.ErrInvalid, "SessionsToExpire without a time")
}

func sessionIDs(xs []*store.Session) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = x.ID
	}
	return out
}

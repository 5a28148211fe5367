package device

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"
)

// maxQueued bounds the request ids waiting for the worker; past it the
// worker lists pending requests instead, which loses nothing.
const maxQueued = 1024

// Run answers requests until ctx ends, then returns ctx's error. It keeps
// the event stream open, reconnecting after any failure with exponential
// back-off and jitter (AgentOptions.MinBackoff..MaxBackoff, starting over
// after a successful connection), and lists the pending requests on every
// (re)connection and every PollInterval, so that a lost push delays a request
// but never loses it. Requests are handled one at a time, in the order they
// arrive; what happens is told through AgentOptions.Notify.
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if a.o.AuditInterval > 0 {
		a.watch(ctx)
	}
	q := newQueue()
	var wg sync.WaitGroup
	wg.Go(func() { a.listen(ctx, q) })
	a.work(ctx, q)
	cancel()
	wg.Wait()
	return ctx.Err()
}

// listen keeps the event stream open and feeds q.
func (a *Agent) listen(ctx context.Context, q *queue) {
	attempt := 0
	for {
		err := a.client.Events(ctx, a.o.EventIdleTimeout,
			func() {
				attempt = 0
				a.o.Notify(Notice{Kind: NoticeConnected})
				q.requestSync()
			},
			q.push)
		if ctx.Err() != nil {
			return
		}
		wait := backoff(attempt, a.o.MinBackoff, a.o.MaxBackoff)
		attempt++
		a.o.Notify(Notice{Kind: NoticeDisconnected, Err: err, Retry: wait})
		if sleep(ctx, wait) != nil {
			return
		}
	}
}

// backoff returns the wait before reconnection attempt n (0-based): a random
// duration in [d/2, d] with d = min·2^n capped at max.
func backoff(n int, minWait, maxWait time.Duration) time.Duration {
	d := minWait
	for i := 0; i < n && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return d/2 + rand.N(d/2+1)
}

// work handles queued ids and full listings until ctx ends.
func (a *Agent) work(ctx context.Context, q *queue) {
	poll := time.NewTicker(a.o.PollInterval)
	defer poll.Stop()
	var audits <-chan time.Time
	if a.o.AuditInterval > 0 {
		t := time.NewTicker(a.o.AuditInterval)
		defer t.Stop()
		audits = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-audits:
			a.watch(ctx)
		case <-poll.C:
			a.sync(ctx)
		case <-q.ready:
			if q.takeSync() {
				a.sync(ctx)
			}
			for id, ok := q.pop(); ok && ctx.Err() == nil; id, ok = q.pop() {
				a.report(id)(a.Handle(ctx, id))
			}
		}
	}
}

// Sync lists the pending requests and handles each, returning the listing's
// error; what happens to each request is told through Notify.
func (a *Agent) Sync(ctx context.Context) error {
	reqs, err := a.client.PendingRequests(ctx)
	if err != nil {
		return err
	}
	for _, req := range reqs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.report(req.RequestID)(a.HandleRequest(ctx, req))
	}
	return nil
}

// watch runs VerifyHistory and tells what it found.
func (a *Agent) watch(ctx context.Context) {
	h, err := a.VerifyHistory(ctx)
	if h != nil {
		for i := range h.Findings {
			a.o.Notify(Notice{Kind: NoticeFinding, Finding: &h.Findings[i]})
		}
	}
	if err != nil && ctx.Err() == nil {
		a.o.Notify(Notice{Kind: NoticeHistory, Err: err})
	}
}

func (a *Agent) sync(ctx context.Context) {
	if err := a.Sync(ctx); err != nil && ctx.Err() == nil {
		a.o.Notify(Notice{Kind: NoticeError, Err: err})
	}
}

// report returns a function that tells Notify the outcome of handling id.
// Requests answered before, being handled or no longer pending are not
// news.
func (a *Agent) report(id string) func(*Result, error) {
	return func(res *Result, err error) {
		switch {
		case err == nil:
			a.o.Notify(Notice{Kind: NoticeAnswered, RequestID: id, Result: res})
		case errors.Is(err, ErrAnswered), errors.Is(err, ErrBusy), errors.Is(err, ErrNotPending), errors.Is(err, ErrLeftForUser),
			errors.Is(err, context.Canceled):
		case errors.Is(err, ErrRefused):
			a.o.Notify(Notice{Kind: NoticeRefused, RequestID: id, Err: err})
		default:
			a.o.Notify(Notice{Kind: NoticeError, RequestID: id, Err: err, Result: res})
		}
	}
}

// queue holds request ids from the event stream, each once, in arrival
// order, and a flag asking for a full listing.
type queue struct {
	mu    sync.Mutex
	ids   []string
	set   map[string]bool
	sync  bool
	ready chan struct{} // has a value when there is work
}

func newQueue() *queue {
	return &queue{set: map[string]bool{}, ready: make(chan struct{}, 1)}
}

func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *queue) push(id string) {
	q.mu.Lock()
	switch {
	case q.set[id]:
	case len(q.ids) >= maxQueued:
		q.sync = true
	default:
		q.ids = append(q.ids, id)
		q.set[id] = true
	}
	q.mu.Unlock()
	q.signal()
}

func (q *queue) requestSync() {
	q.mu.Lock()
	q.sync = true
	q.mu.Unlock()
	q.signal()
}

func (q *queue) takeSync() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.sync
	q.sync = false
	return s
}

func (q *queue) pop() (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.ids) == 0 {
		return "", false
	}
	id := q.ids[0]
	q.ids = q.ids[1:]
	delete(q.set, id)
	return id, true
}

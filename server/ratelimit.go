package server

import (
	"math"
	"sync"
	"time"
)

// rateSpec is a token bucket: burst tokens, refilled at rate per second. A
// negative rate disables it.
type rateSpec struct {
	rate  float64
	burst int
}

type bucket struct {
	tokens float64
	last   time.Time
}

// limiter keeps the token buckets of users and requesters (third parties),
// for the requests that reach a device. Buckets that are full again are
// dropped by prune, so memory stays bounded by recent callers.
type limiter struct {
	mu         sync.Mutex
	user, req  rateSpec
	users      map[string]*bucket
	requesters map[string]*bucket
}

func newLimiter(user, requester rateSpec) *limiter {
	return &limiter{
		user: user, req: requester,
		users:      make(map[string]*bucket),
		requesters: make(map[string]*bucket),
	}
}

// allow takes a token from the user's and the requester's buckets if both
// have one, and otherwise takes none and says how long to wait.
func (l *limiter) allow(userID, requesterID string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ub := l.refill(l.users, userID, l.user, now)
	rb := l.refill(l.requesters, requesterID, l.req, now)
	wait := max(tokenWait(ub, l.user), tokenWait(rb, l.req))
	if wait > 0 {
		return false, wait
	}
	if ub != nil {
		ub.tokens--
	}
	if rb != nil {
		rb.tokens--
	}
	return true, 0
}

// refill returns key's bucket brought up to now, or nil when spec is off.
func (l *limiter) refill(m map[string]*bucket, key string, spec rateSpec, now time.Time) *bucket {
	if spec.rate < 0 {
		return nil
	}
	b := m[key]
	if b == nil {
		b = &bucket{tokens: float64(spec.burst), last: now}
		m[key] = b
	}
	if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = math.Min(float64(spec.burst), b.tokens+elapsed.Seconds()*spec.rate)
		b.last = now
	}
	return b
}

// tokenWait is how long until b has a whole token (0 if it has one).
func tokenWait(b *bucket, spec rateSpec) time.Duration {
	if b == nil || b.tokens >= 1 {
		return 0
	}
	if spec.rate == 0 {
		return time.Hour
	}
	return time.Duration((1 - b.tokens) / spec.rate * float64(time.Second))
}

// prune forgets the buckets that are full at now.
func (l *limiter) prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, set := range []struct {
		m    map[string]*bucket
		spec rateSpec
	}{{l.users, l.user}, {l.requesters, l.req}} {
		for k, b := range set.m {
			if b.tokens+now.Sub(b.last).Seconds()*set.spec.rate >= float64(set.spec.burst) {
				delete(set.m, k)
			}
		}
	}
}

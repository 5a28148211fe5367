package server

import (
	"math"
	"net"
	"net/http"
	"net/netip"
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

// limiter keeps the token buckets of users, requesters (third parties)
// and (user, requester) pairs, for the requests that reach a device.
// Buckets that are full again are dropped by prune, so memory stays bounded
// by recent callers.
type limiter struct {
	mu              sync.Mutex
	user, req, pair rateSpec
	users           map[string]*bucket
	requesters      map[string]*bucket
	pairs           map[string]*bucket // by userID + "\x00" + requesterID
}

func newLimiter(user, requester, pair rateSpec) *limiter {
	return &limiter{
		user: user, req: requester, pair: pair,
		users:      make(map[string]*bucket),
		requesters: make(map[string]*bucket),
		pairs:      make(map[string]*bucket),
	}
}

// Which rate allow found spent, named by its settings for the 429 message.
const (
	limitUserRate      = "the user's rate (user-rate, user-burst)"
	limitRequesterRate = "this client's rate (requester-rate, requester-burst)"
	limitPairRate      = "this client's rate for this user (user-requester-rate, user-requester-burst)"
)

// allow takes a token from the user's, the requester's and the pair's
// buckets if all have one, and otherwise takes none and says which limit
// was hit and how long to wait for it. The pair is checked first: a
// requester past its share for the user is told so, and does not spend the
// user's tokens that other requesters need.
func (l *limiter) allow(userID, requesterID string, now time.Time) (ok bool, limit string, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pb := refill(l.pairs, userID+"\x00"+requesterID, l.pair, now)
	ub := refill(l.users, userID, l.user, now)
	rb := refill(l.requesters, requesterID, l.req, now)
	for _, c := range []struct {
		b     *bucket
		spec  rateSpec
		limit string
	}{{pb, l.pair, limitPairRate}, {rb, l.req, limitRequesterRate}, {ub, l.user, limitUserRate}} {
		if w := tokenWait(c.b, c.spec); w > 0 {
			return false, c.limit, w
		}
	}
	for _, b := range []*bucket{pb, ub, rb} {
		if b != nil {
			b.tokens--
		}
	}
	return true, "", 0
}

// refill returns key's bucket brought up to now, or nil when spec is off.
func refill(m map[string]*bucket, key string, spec rateSpec, now time.Time) *bucket {
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
	pruneFull(l.users, l.user, now)
	pruneFull(l.requesters, l.req, now)
	pruneFull(l.pairs, l.pair, now)
}

func pruneFull(m map[string]*bucket, spec rateSpec, now time.Time) {
	for k, b := range m {
		if b.tokens+now.Sub(b.last).Seconds()*spec.rate >= float64(spec.burst) {
			delete(m, k)
		}
	}
}

// maxKeyedBuckets bounds a keyedLimiter's memory: past it, calls from new
// keys are refused until prune frees buckets (full again: callers that
// went quiet).
const maxKeyedBuckets = 1 << 16

// keyedLimiter is one token bucket per key (a client address, a client id).
type keyedLimiter struct {
	mu   sync.Mutex
	spec rateSpec
	m    map[string]*bucket
}

func newKeyedLimiter(spec rateSpec) *keyedLimiter {
	return &keyedLimiter{spec: spec, m: make(map[string]*bucket)}
}

// allow takes a token from key's bucket, or says how long to wait.
func (k *keyedLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.spec.rate < 0 {
		return true, 0
	}
	if k.m[key] == nil && len(k.m) >= maxKeyedBuckets {
		return false, time.Minute
	}
	b := refill(k.m, key, k.spec, now)
	if w := tokenWait(b, k.spec); w > 0 {
		return false, w
	}
	b.tokens--
	return true, 0
}

// prune forgets the buckets that are full at now.
func (k *keyedLimiter) prune(now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	pruneFull(k.m, k.spec, now)
}

// clientAddr is the key of an unauthenticated caller: its IP address as
// the connection shows it (never a forwarding header, which the caller
// writes), an IPv6 address cut to its /64, which one host usually holds
// whole.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}

package server

import (
	"context"
	"sync"
	"time"

	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/oprf"
)

// pendingSecrets are what a request needs from the node that made it once
// the device answers: the blinds of its elements and, for a create, the
// record's data key and private input. They exist in this node's memory
// only.
type pendingSecrets struct {
	kind      string // threshold.KindCreate or KindAccess
	userID    string
	recordID  string
	sessionID string // access only
	dek       []byte // create only
	input     []byte // create only: x, to evaluate the server share
	inline    bool   // create only: the store keeps the ciphertext; no blob to commit
	blinding  *oprf.Blinding
	// expires is when the sweeper clears the secrets whatever happened:
	// the request's expiry plus processingGrace.
	expires time.Time
	busy    bool          // an answer is being processed with them
	done    bool          // the answer is applied; only marking it processed is left
	idle    chan struct{} // closed when the processing that set busy ends
	// doomed is set when the secrets were dropped (expiry, shutdown) while
	// busy: nobody may claim them again, and the claimant destroys them
	// when it lets go, so that no processing in flight reads a cleared key
	// or a destroyed blinding.
	doomed bool
}

func (p *pendingSecrets) destroy() {
	if p.busy {
		p.busy = false
		close(p.idle)
	}
	secret.Clear(p.dek, p.input)
	p.dek, p.input = nil, nil
	if p.blinding != nil {
		p.blinding.Destroy()
		p.blinding = nil
	}
}

// claim results.
type claimResult int

const (
	claimed claimResult = iota // the caller now processes with the secrets
	missing                    // no secrets here: lost in a restart, or already done
	busy                       // someone else is processing with them
)

// pendingTable holds the pendingSecrets of this node, by request id.
type pendingTable struct {
	mu sync.Mutex
	m  map[string]*pendingSecrets
}

func newPendingTable() *pendingTable {
	return &pendingTable{m: make(map[string]*pendingSecrets)}
}

func (t *pendingTable) put(requestID string, p *pendingSecrets) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.m[requestID]; old != nil && !old.busy {
		old.destroy()
	} else if old != nil {
		old.doomed = true // its claimant destroys it; it is no longer in t
	}
	t.m[requestID] = p
}

// claim marks the secrets of requestID busy and returns them, so that of
// the inline processing and the poller only one acts on them.
func (t *pendingTable) claim(requestID string) (*pendingSecrets, claimResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.m[requestID]
	switch {
	case p == nil, p.doomed:
		return nil, missing
	case p.busy:
		return nil, busy
	}
	p.busy = true
	p.idle = make(chan struct{})
	return p, claimed
}

// wait returns once nobody processes requestID's answer, or after timeout
// or when ctx ends.
func (t *pendingTable) wait(ctx context.Context, requestID string, timeout time.Duration) {
	t.mu.Lock()
	p := t.m[requestID]
	if p == nil || !p.busy {
		t.mu.Unlock()
		return
	}
	idle := p.idle
	t.mu.Unlock()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-idle:
	case <-timer.C:
	case <-ctx.Done():
	}
}

// unclaim returns claimed secrets p of requestID after a failure that a
// retry may fix; if they were dropped meanwhile, they are destroyed now.
func (t *pendingTable) unclaim(requestID string, p *pendingSecrets) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p.doomed {
		t.forgetLocked(requestID, p)
		return
	}
	if p.busy {
		p.busy = false
		close(p.idle)
	}
}

// finish destroys and forgets the claimed secrets p of requestID: their
// claimant is done with them.
func (t *pendingTable) finish(requestID string, p *pendingSecrets) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.forgetLocked(requestID, p)
}

func (t *pendingTable) forgetLocked(requestID string, p *pendingSecrets) {
	p.destroy()
	if t.m[requestID] == p {
		delete(t.m, requestID)
	}
}

// drop clears and forgets the secrets of requestID. Claimed secrets are
// only doomed: no one can claim them again, and their claimant destroys
// them when it finishes or unclaims.
func (t *pendingTable) drop(requestID string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if p := t.m[requestID]; p != nil {
		t.dropLocked(requestID, p)
	}
}

func (t *pendingTable) dropLocked(requestID string, p *pendingSecrets) {
	if p.busy {
		p.doomed = true
		return
	}
	t.forgetLocked(requestID, p)
}

// expire clears the unclaimed secrets past their expiry.
func (t *pendingTable) expire(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, p := range t.m {
		if !p.busy && !now.Before(p.expires) {
			p.destroy()
			delete(t.m, id)
		}
	}
}

// has reports whether requestID has secrets here (doomed ones included:
// the request was made by this run).
func (t *pendingTable) has(requestID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.m[requestID] != nil
}

// len is the number of requests with secrets here.
func (t *pendingTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// clearAll drops every entry (see drop) and returns the request ids of
// those that were live (not doomed already).
func (t *pendingTable) clearAll() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ids []string
	for id, p := range t.m {
		if !p.doomed {
			ids = append(ids, id)
		}
		t.dropLocked(id, p)
	}
	return ids
}

// anyBusy reports whether an answer is being processed with secrets here.
func (t *pendingTable) anyBusy() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, p := range t.m {
		if p.busy {
			return true
		}
	}
	return false
}

// sessionKey is the data key of an open session. Downloads in progress hold
// it; it is cleared when the session ends and the last of them is done.
// When the session ends (expiry, or ended in the store) the downloads in
// progress are stopped through ended, so that none can keep the key.
type sessionKey struct {
	dek     []byte
	expires time.Time
	users   int
	retired bool // no new download may take the key
	ended   context.Context
	end     context.CancelFunc
}

// sessionKeys holds the data keys of this node's open sessions.
type sessionKeys struct {
	mu sync.Mutex
	m  map[string]*sessionKey
}

func newSessionKeys() *sessionKeys {
	return &sessionKeys{m: make(map[string]*sessionKey)}
}

// put takes ownership of dek. A session gets its key once: a second put
// (which the store's conditional OpenSession rules out) clears dek.
func (k *sessionKeys) put(sessionID string, dek []byte, expires time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m[sessionID] != nil {
		secret.Clear(dek)
		return
	}
	ended, end := context.WithCancel(context.Background())
	k.m[sessionID] = &sessionKey{dek: dek, expires: expires, ended: ended, end: end}
}

// acquire returns the data key of a live session for one download, or nil,
// and a context that ends when the session does: the download must stop
// then. The caller calls release when the download ends.
func (k *sessionKeys) acquire(sessionID string) ([]byte, context.Context) {
	k.mu.Lock()
	defer k.mu.Unlock()
	sk := k.m[sessionID]
	if sk == nil || sk.retired {
		return nil, nil
	}
	sk.users++
	return sk.dek, sk.ended
}

// release ends a download; retire (the last download was taken) also
// retires the session's key, which is cleared when the downloads in
// progress finish.
func (k *sessionKeys) release(sessionID string, retire bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	sk := k.m[sessionID]
	if sk == nil {
		return
	}
	sk.users--
	sk.retired = sk.retired || retire
	k.reapLocked(sessionID, sk)
}

// retire ends a session's key because the session ended: downloads in
// progress are told to stop, and the key is cleared now, or when they have.
func (k *sessionKeys) retire(sessionID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if sk := k.m[sessionID]; sk != nil {
		k.endLocked(sessionID, sk)
	}
}

// expire ends the keys of sessions past their expiry, as retire does.
func (k *sessionKeys) expire(now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, sk := range k.m {
		if !now.Before(sk.expires) {
			k.endLocked(id, sk)
		}
	}
}

func (k *sessionKeys) endLocked(sessionID string, sk *sessionKey) {
	sk.retired = true
	sk.end()
	k.reapLocked(sessionID, sk)
}

func (k *sessionKeys) reapLocked(sessionID string, sk *sessionKey) {
	if sk.retired && sk.users <= 0 {
		sk.end()
		secret.Clear(sk.dek)
		if k.m[sessionID] == sk {
			delete(k.m, sessionID)
		}
	}
}

// len is the number of session keys held.
func (k *sessionKeys) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.m)
}

func (k *sessionKeys) clearAll() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, sk := range k.m {
		sk.end()
		secret.Clear(sk.dek)
		delete(k.m, id)
	}
}

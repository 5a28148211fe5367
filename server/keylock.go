package server

import "sync"

// keyLock is a set of held keys: a non-blocking per-key mutex.
type keyLock struct {
	mu   sync.Mutex
	held map[string]struct{}
}

func newKeyLock() *keyLock { return &keyLock{held: make(map[string]struct{})} }

// tryLock takes key if nobody holds it.
func (k *keyLock) tryLock(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.held[key]; ok {
		return false
	}
	k.held[key] = struct{}{}
	return true
}

func (k *keyLock) unlock(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.held, key)
}

func (k *keyLock) holds(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.held[key]
	return ok
}

package server

import (
	"sync"
	"time"
)

// nonceCache is the replay cache of device signatures in this process's
// memory, for a node that is the only one using its store
// (Config.SingleNode; DESIGN.md, "Scale-out": the cache lives in the
// database once there is more than one node). It saves a store write per
// signed device call. Only verified calls add nonces, so its size is bounded
// by what the devices themselves send within NonceWindow.
type nonceCache struct {
	mu   sync.Mutex
	m    map[nonceKey]time.Time // until when each nonce is remembered
	adds int
}

type nonceKey struct{ device, nonce string }

// nonceSweepEvery is how many additions pass between sweeps of the expired
// nonces.
const nonceSweepEvery = 1024

func newNonceCache() *nonceCache { return &nonceCache{m: map[nonceKey]time.Time{}} }

// remember records (deviceID, nonce) until expires, as
// store.Store.RememberNonce: false if it is remembered and unexpired at now.
func (c *nonceCache) remember(deviceID, nonce string, expires, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := nonceKey{deviceID, nonce}
	if until, ok := c.m[k]; ok && now.Before(until) {
		return false
	}
	c.m[k] = expires
	if c.adds++; c.adds%nonceSweepEvery == 0 {
		for k, until := range c.m {
			if !now.Before(until) {
				delete(c.m, k)
			}
		}
	}
	return true
}

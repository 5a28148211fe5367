package server

import (
	"fmt"
	"testing"
	"time"
)

// TestNonceCache: a nonce is refused while remembered, per device, and
// accepted again once expired; expired nonces are swept.
func TestNonceCache(t *testing.T) {
	c := newNonceCache()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	until := now.Add(NonceWindow)
	if !c.remember("dev_a", "n1", until, now) {
		t.Fatal("a fresh nonce was refused")
	}
	if c.remember("dev_a", "n1", until, now.Add(time.Second)) {
		t.Fatal("a replayed nonce was accepted")
	}
	if !c.remember("dev_b", "n1", until, now) {
		t.Fatal("another device's nonce was refused")
	}
	if !c.remember("dev_a", "n1", until.Add(NonceWindow), until) {
		t.Fatal("an expired nonce was refused")
	}
	later := until.Add(time.Hour)
	for i := range nonceSweepEvery {
		c.remember("dev_c", fmt.Sprint(i), later.Add(time.Minute), later)
	}
	if _, ok := c.m[nonceKey{"dev_b", "n1"}]; ok {
		t.Fatal("an expired nonce survived a sweep")
	}
}

package store

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	testUser   = "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	testClient = "cli_eeeeeeeeeeeeeeeeeeeeeeeeee"
	testDevice = "dev_iiiiiiiiiiiiiiiiiiiiiiiiii"
	testRecord = "0190a0b0-c0d0-7e0f-8a0b-0c0d0e0f1011"
)

// TestAuditHashVector pins the byte layout of AuditHash against values
// computed independently (Python hashlib over the layout in the doc comment).
func TestAuditHashVector(t *testing.T) {
	e1 := &AuditEntry{
		UserID: testUser, Seq: 1, Event: EventUserCreated, Actor: testClient,
		At: time.Unix(1767225600, 0), PrevHash: make([]byte, 32),
	}
	h1, err := AuditHash(e1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(h1), "f792f5740ecbd7f200e6ffec529230075f72f299cf4f2d6242b1eb87fea4fa77"; got != want {
		t.Fatalf("entry 1 hash %s, want %s", got, want)
	}
	e2 := &AuditEntry{
		UserID: testUser, Seq: 2, Event: EventApproved, Actor: testDevice, Subject: testRecord,
		Details: []byte(`{"signature":"AQI="}`), At: time.Unix(1767225661, 0), PrevHash: h1,
	}
	h2, err := AuditHash(e2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(h2), "3773ed00a70db47b33ab8023257a28ca2289ad01fb54170f3b91761f304e2e6a"; got != want {
		t.Fatalf("entry 2 hash %s, want %s", got, want)
	}
}

func TestAuditHashRejects(t *testing.T) {
	good := func() *AuditEntry {
		return &AuditEntry{UserID: testUser, Seq: 1, Event: EventUserCreated, Actor: "server", At: time.Unix(1767225600, 0), PrevHash: make([]byte, 32)}
	}
	for name, edit := range map[string]func(e *AuditEntry){
		"short previous hash": func(e *AuditEntry) { e.PrevHash = e.PrevHash[:31] },
		"no previous hash":    func(e *AuditEntry) { e.PrevHash = nil },
		"zero sequence":       func(e *AuditEntry) { e.Seq = 0 },
		"negative sequence":   func(e *AuditEntry) { e.Seq = -1 },
		"time before 1970":    func(e *AuditEntry) { e.At = time.Unix(-1, 0) },
		"oversize actor":      func(e *AuditEntry) { e.Actor = strings.Repeat("a", 0x10000) },
	} {
		e := good()
		edit(e)
		if _, err := AuditHash(e); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	e := good()
	e.Actor = strings.Repeat("a", 0xffff)
	if _, err := AuditHash(e); err != nil {
		t.Errorf("actor of 65535 bytes: %v", err)
	}
}

// testChain builds a valid chain of n entries for testUser: each links to
// the one before and is hashed with AuditHash (as check.NextAuditEntry
// does, which store/internal/check tests).
func testChain(t *testing.T, n int) []*AuditEntry {
	t.Helper()
	events := []string{EventUserCreated, EventDeviceEnrolled, EventRecordCreated, EventApprovalRequested, EventApproved, EventRecordSealed}
	var chain []*AuditEntry
	var prev *AuditEntry
	for i := range n {
		e := &AuditEntry{
			UserID: testUser, Event: events[i%len(events)], Actor: testDevice, Subject: testRecord,
			Details: []byte(`{"n":` + string(rune('0'+i%10)) + `}`), At: time.Unix(1767225600+int64(i)*60, 0),
		}
		e.Seq, e.PrevHash = 1, make([]byte, HashLen)
		if prev != nil {
			e.Seq, e.PrevHash = prev.Seq+1, bytes.Clone(prev.Hash)
		}
		h, err := AuditHash(e)
		if err != nil {
			t.Fatal(err)
		}
		e.Hash = h
		chain = append(chain, e)
		prev = e
	}
	return chain
}

func copyChain(c []*AuditEntry) []*AuditEntry {
	out := make([]*AuditEntry, len(c))
	for i, e := range c {
		d := *e
		d.Details = bytes.Clone(e.Details)
		d.PrevHash = bytes.Clone(e.PrevHash)
		d.Hash = bytes.Clone(e.Hash)
		out[i] = &d
	}
	return out
}

func TestVerifyChainAccepts(t *testing.T) {
	if err := VerifyChain(nil); err != nil {
		t.Errorf("empty chain: %v", err)
	}
	chain := testChain(t, 6)
	if err := VerifyChain(chain); err != nil {
		t.Fatalf("valid chain: %v", err)
	}
	// A prefix of a chain is a valid chain: truncation of the tail is visible
	// only to a verifier that remembers the last hash it saw (the device).
	if err := VerifyChain(chain[:3]); err != nil {
		t.Fatalf("prefix: %v", err)
	}
}

func TestVerifyChainRemoved(t *testing.T) {
	chain := testChain(t, 6)
	for i := 0; i < len(chain)-1; i++ {
		c := copyChain(chain)
		c = append(c[:i], c[i+1:]...)
		if err := VerifyChain(c); !errors.Is(err, ErrChainBroken) {
			t.Errorf("entry %d removed: err = %v", i+1, err)
		}
	}
	// Removal with renumbering: the links still give it away.
	c := copyChain(chain)
	c = append(c[:2], c[3:]...)
	for i, e := range c {
		e.Seq = int64(i + 1)
	}
	if err := VerifyChain(c); !errors.Is(err, ErrChainBroken) {
		t.Errorf("entry 3 removed and the rest renumbered: err = %v", err)
	}
}

func TestVerifyChainEdited(t *testing.T) {
	chain := testChain(t, 4)
	edits := map[string]func(e *AuditEntry){
		"user":          func(e *AuditEntry) { e.UserID = "usr_mmmmmmmmmmmmmmmmmmmmmmmmmm" },
		"event":         func(e *AuditEntry) { e.Event = EventDenied },
		"actor":         func(e *AuditEntry) { e.Actor = testClient },
		"subject":       func(e *AuditEntry) { e.Subject = "" },
		"details":       func(e *AuditEntry) { e.Details[len(e.Details)-2] ^= 1 },
		"details gone":  func(e *AuditEntry) { e.Details = nil },
		"time":          func(e *AuditEntry) { e.At = e.At.Add(time.Second) },
		"sequence":      func(e *AuditEntry) { e.Seq += 10 },
		"previous hash": func(e *AuditEntry) { e.PrevHash[0] ^= 1 },
		"hash":          func(e *AuditEntry) { e.Hash[31] ^= 1 },
	}
	for name, edit := range edits {
		for i := range chain {
			c := copyChain(chain)
			edit(c[i])
			if err := VerifyChain(c); !errors.Is(err, ErrChainBroken) {
				t.Errorf("%s of entry %d edited: err = %v", name, i+1, err)
			}
		}
	}
	// An edit whose hash is recomputed still breaks the link of the next entry.
	c := copyChain(chain)
	c[1].Actor = testClient
	h, err := AuditHash(c[1])
	if err != nil {
		t.Fatal(err)
	}
	c[1].Hash = h
	if err := VerifyChain(c); !errors.Is(err, ErrChainBroken) || !strings.Contains(err.Error(), "entry 3") {
		t.Errorf("entry 2 edited with its hash recomputed: err = %v, want entry 3 named", err)
	}
}

func TestVerifyChainReordered(t *testing.T) {
	chain := testChain(t, 5)
	for i := 0; i < len(chain)-1; i++ {
		c := copyChain(chain)
		c[i], c[i+1] = c[i+1], c[i]
		if err := VerifyChain(c); !errors.Is(err, ErrChainBroken) {
			t.Errorf("entries %d and %d swapped: err = %v", i+1, i+2, err)
		}
		// Swapped and renumbered.
		c[i].Seq, c[i+1].Seq = int64(i+1), int64(i+2)
		if err := VerifyChain(c); !errors.Is(err, ErrChainBroken) {
			t.Errorf("entries %d and %d swapped and renumbered: err = %v", i+1, i+2, err)
		}
	}
}

func TestVerifyChainInserted(t *testing.T) {
	chain := testChain(t, 4)
	// A forged entry linked correctly to entry 2, inserted before entry 3;
	// the later entries are renumbered but their links cannot be remade
	// without rewriting every hash after it.
	forged := &AuditEntry{UserID: testUser, Event: EventApproved, Actor: testDevice, At: time.Unix(1767225700, 0),
		Seq: chain[1].Seq + 1, PrevHash: bytes.Clone(chain[1].Hash)}
	h, err := AuditHash(forged)
	if err != nil {
		t.Fatal(err)
	}
	forged.Hash = h
	c := copyChain(chain)
	c = append(c[:2], append([]*AuditEntry{forged}, c[2:]...)...)
	for i, e := range c {
		e.Seq = int64(i + 1)
	}
	if err := VerifyChain(c); !errors.Is(err, ErrChainBroken) {
		t.Errorf("forged entry inserted: err = %v", err)
	}
	// A copy of an existing entry inserted (a replay within the chain).
	c = copyChain(chain)
	c = append(c[:2], append([]*AuditEntry{c[1]}, c[2:]...)...)
	if err := VerifyChain(c); !errors.Is(err, ErrChainBroken) {
		t.Errorf("duplicate entry inserted: err = %v", err)
	}
	// An entry of another user's chain, inserted at the right place.
	other := testChain(t, 3)
	for _, e := range other {
		e.UserID = "usr_mmmmmmmmmmmmmmmmmmmmmmmmmm"
	}
	c = copyChain(chain)
	c[2] = other[2]
	if err := VerifyChain(c); !errors.Is(err, ErrChainBroken) {
		t.Errorf("another user's entry inserted: err = %v", err)
	}
	// A chain that does not start at sequence 1.
	if err := VerifyChain(copyChain(chain)[1:]); !errors.Is(err, ErrChainBroken) {
		t.Errorf("chain without its first entry: err = %v", err)
	}
}

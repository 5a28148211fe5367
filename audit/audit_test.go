package audit

import (
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

// TestHashAndChain: the first vector of store's TestAuditHashVector
// (computed independently), a two-entry chain that verifies, and each
// tampering that must break it.
func TestHashAndChain(t *testing.T) {
	e1 := &Entry{
		UserID: "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa", Seq: 1, Event: "user_created", Actor: "cli_eeeeeeeeeeeeeeeeeeeeeeeeee",
		At: time.Unix(1767225600, 0), PrevHash: make([]byte, 32),
	}
	h1, err := Hash(e1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(h1), "f792f5740ecbd7f200e6ffec529230075f72f299cf4f2d6242b1eb87fea4fa77"; got != want {
		t.Fatalf("hash %s, want %s", got, want)
	}
	e1.Hash = h1
	e2 := &Entry{UserID: e1.UserID, Seq: 2, Event: "approved", Actor: "dev_x", At: e1.At, PrevHash: h1, Details: []byte(`{}`)}
	if e2.Hash, err = Hash(e2); err != nil {
		t.Fatal(err)
	}
	if err := VerifyChain([]*Entry{e1, e2}); err != nil {
		t.Fatal(err)
	}
	for name, chain := range map[string][]*Entry{
		"first removed": {e2},
		"reordered":     {e2, e1},
		"edited":        {e1, {UserID: e2.UserID, Seq: 2, Event: "denied", Actor: e2.Actor, At: e2.At, PrevHash: h1, Details: e2.Details, Hash: e2.Hash}},
	} {
		if err := VerifyChain(chain); !errors.Is(err, ErrChainBroken) {
			t.Errorf("%s: %v, want ErrChainBroken", name, err)
		}
	}
	if _, err := Hash(&Entry{Seq: 0, PrevHash: make([]byte, 32)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("sequence 0: %v", err)
	}
}

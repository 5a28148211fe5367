package threshold

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func TestMasterKeyID(t *testing.T) {
	a, err := NewMasterKey(bytes.Repeat([]byte{1}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMasterKey(bytes.Repeat([]byte{2}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := NewMasterKey(bytes.Repeat([]byte{1}, KeySize))
	if a.ID() != again.ID() || len(a.ID()) != 32 {
		t.Fatalf("ID %q is not stable or not 16 bytes of hex", a.ID())
	}
	if a.ID() == b.ID() {
		t.Fatal("two keys share an id")
	}
	if strings.Contains(a.ID(), hex.EncodeToString(bytes.Repeat([]byte{1}, 4))) {
		t.Fatal("the id shows key bytes")
	}
	a.Destroy()
	if a.ID() != "" {
		t.Fatal("a destroyed key has an id")
	}
}

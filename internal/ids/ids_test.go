package ids

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestOpaqueRoundTrip(t *testing.T) {
	id, err := New(Request, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := Check(Request, id); err != nil {
		t.Fatalf("Check(%q) = %v", id, err)
	}
	if err := Check(Session, id); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Check with the wrong prefix = %v, want ErrMalformed", err)
	}
}

func TestOpaqueMalformed(t *testing.T) {
	good, _ := New(User, bytes.NewReader(make([]byte, 16)))
	for _, id := range []string{
		"", "usr_", "usr", good + "a", good[:len(good)-1],
		strings.ToUpper(good), "usr_aaaaaaaaaaaaaaaaaaaaaaaaa!", "../../etc/passwd",
		"usr_aaaaaaaaaaaaaaaaaaaaaaaaab", // non-canonical trailing bits
	} {
		if err := Check(User, id); !errors.Is(err, ErrMalformed) {
			t.Errorf("Check(%q) = %v, want ErrMalformed", id, err)
		}
	}
}

func TestNewFailsWithoutRandomness(t *testing.T) {
	if _, err := New(User, bytes.NewReader(nil)); err == nil {
		t.Fatal("New with an empty reader succeeded")
	}
	if _, err := NewRecord(bytes.NewReader(nil), time.Now()); err == nil {
		t.Fatal("NewRecord with an empty reader succeeded")
	}
}

func TestRecordTime(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 123e6, time.UTC)
	id, err := NewRecord(rand.Reader, now)
	if err != nil {
		t.Fatal(err)
	}
	got, err := RecordTime(id)
	if err != nil {
		t.Fatalf("RecordTime(%q) = %v", id, err)
	}
	if !got.Equal(now) {
		t.Fatalf("RecordTime = %v, want %v", got, now)
	}
	for _, bad := range []string{
		"", strings.ToUpper(id), id + "0", id[:35],
		"00000000-0000-4000-8000-000000000000", // version 4
		"017f22e2-79b0-7cc3-18c4-dc0c0c07398f", // version 7 with a wrong variant
		"{" + id[1:35] + "}",
	} {
		if _, err := RecordTime(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("RecordTime(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

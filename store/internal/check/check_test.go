package check

import (
	"bytes"
	"errors"
	"path"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/assent-dev/assent/store"
)

const (
	testUser   = "usr_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	testClient = "cli_eeeeeeeeeeeeeeeeeeeeeeeeee"
	testDevice = "dev_iiiiiiiiiiiiiiiiiiiiiiiiii"
	testRecord = "0190a0b0-c0d0-7e0f-8a0b-0c0d0e0f1011"
)

func TestCheckBlobName(t *testing.T) {
	for _, ok := range []string{"a", "A-z_0.9", testRecord, strings.Repeat("x", store.MaxBlobName), "...", ".hidden"} {
		if err := BlobName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "a/b", "../x", "/abs", `a\b`, "a b", "a\x00b", "é", strings.Repeat("x", store.MaxBlobName+1), "a:b"} {
		if err := BlobName(bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%q: err = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestCheckText(t *testing.T) {
	if err := Text("title", strings.Repeat("é", store.MaxTextLen/2), true); err != nil {
		t.Errorf("text of store.MaxTextLen bytes: %v", err)
	}
	if err := Text("title", "", false); err != nil {
		t.Errorf("optional empty text: %v", err)
	}
	for name, s := range map[string]string{"empty": "", "oversize": strings.Repeat("a", store.MaxTextLen+1), "bad UTF-8": "a\xffb"} {
		err := Text("title", s, true)
		if !errors.Is(err, store.ErrInvalid) || !strings.Contains(err.Error(), "title") {
			t.Errorf("%s: err = %v, want store.ErrInvalid naming the field", name, err)
		}
	}
}

func TestCheckTime(t *testing.T) {
	for name, tc := range map[string]struct {
		t        time.Time
		required bool
		ok       bool
	}{
		"zero optional":  {time.Time{}, false, true},
		"zero required":  {time.Time{}, true, false},
		"1970":           {time.Unix(0, 0), true, true},
		"before 1970":    {time.Unix(-1, 0), true, false},
		"2199":           {store.MaxTime.Add(-time.Second), true, true},
		"2200":           {store.MaxTime, true, false},
		"other location": {time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)), true, true},
	} {
		err := Time("t", tc.t, tc.required)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, store.ErrInvalid)) {
			t.Errorf("%s: err = %v, want ok=%v", name, err, tc.ok)
		}
	}
}

func TestCheckLimit(t *testing.T) {
	for _, n := range []int{1, store.MaxLimit} {
		if err := Limit(n); err != nil {
			t.Errorf("limit %d: %v", n, err)
		}
	}
	for _, n := range []int{0, -1, store.MaxLimit + 1} {
		if err := Limit(n); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("limit %d: err = %v", n, err)
		}
	}
}

func TestCheckKeyID(t *testing.T) {
	if err := KeyID("k", "0123456789abcdef0123456789abcdef"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"", "0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdeg"} {
		if err := KeyID("k", bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestCheckList(t *testing.T) {
	if err := List("l", nil, false); err != nil {
		t.Error(err)
	}
	if err := List("l", [][]byte{make([]byte, store.MaxBytesLen)}, true); err != nil {
		t.Error(err)
	}
	for name, l := range map[string][][]byte{
		"empty":       nil,
		"empty item":  {{1}, {}},
		"oversize":    {make([]byte, store.MaxBytesLen), {1}},
		"too many":    make([][]byte, store.MaxListLen+1),
		"nil in list": {nil},
	} {
		if err := List("l", l, true); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestCheckAnswer(t *testing.T) {
	appr := store.Approval{DeviceID: testDevice, Statement: []byte("s"), Signature: []byte("sig")}
	now := time.Unix(1767225600, 0)
	ok := []store.Answer{
		{Decision: store.DecisionApprove, EvaluatedElements: [][]byte{{1}}, Proof: []byte{2}, Approval: appr, AnsweredAt: now},
		{Decision: store.DecisionDeny, Approval: appr, AnsweredAt: now},
	}
	for _, a := range ok {
		if err := Answer(&a); err != nil {
			t.Errorf("%s: %v", a.Decision, err)
		}
	}
	bad := map[string]store.Answer{
		"approve without proof":    {Decision: store.DecisionApprove, EvaluatedElements: [][]byte{{1}}, Approval: appr, AnsweredAt: now},
		"approve without elements": {Decision: store.DecisionApprove, Proof: []byte{2}, Approval: appr, AnsweredAt: now},
		"deny with proof":          {Decision: store.DecisionDeny, Proof: []byte{2}, Approval: appr, AnsweredAt: now},
		"unknown decision":         {Decision: "maybe", Approval: appr, AnsweredAt: now},
		"no signature":             {Decision: store.DecisionDeny, Approval: store.Approval{DeviceID: testDevice, Statement: []byte("s")}, AnsweredAt: now},
		"bad device id":            {Decision: store.DecisionDeny, Approval: store.Approval{DeviceID: testUser, Statement: []byte("s"), Signature: []byte("x")}, AnsweredAt: now},
		"no time":                  {Decision: store.DecisionDeny, Approval: appr},
	}
	for name, a := range bad {
		if err := Answer(&a); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestCheckNilArguments(t *testing.T) {
	for name, err := range map[string]error{
		"user":        User(nil),
		"enrollment":  Enrollment(nil),
		"device":      Device(nil),
		"client":      Client(nil),
		"record":      NewRecord(nil),
		"request":     NewRequest(nil),
		"session":     NewSession(nil),
		"audit entry": AuditEntry(nil),
	} {
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("nil %s: err = %v", name, err)
		}
	}
}

func TestNextAuditEntry(t *testing.T) {
	at := time.Date(2026, 1, 1, 12, 0, 0, 999_000_000, time.FixedZone("x", 3600))
	e := &store.AuditEntry{UserID: testUser, Event: store.EventUserCreated, Actor: testClient, At: at, Details: []byte(`{}`)}
	first, err := NextAuditEntry(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if first.Seq != 1 || !bytes.Equal(first.PrevHash, make([]byte, 32)) || len(first.Hash) != 32 {
		t.Fatalf("first entry: seq %d prev %x hash %x", first.Seq, first.PrevHash, first.Hash)
	}
	if !first.At.Equal(at.Truncate(time.Second)) || first.At.Location() != time.UTC {
		t.Fatalf("time %v, want whole seconds in UTC", first.At)
	}
	e.Details[0] = '['
	if first.Details[0] != '{' {
		t.Fatal("entry shares Details with its argument")
	}
	second, err := NextAuditEntry(first, &store.AuditEntry{UserID: testUser, Event: store.EventDeviceEnrolled, Actor: testDevice, At: at})
	if err != nil {
		t.Fatal(err)
	}
	if second.Seq != 2 || !bytes.Equal(second.PrevHash, first.Hash) {
		t.Fatalf("second entry: seq %d prev %x", second.Seq, second.PrevHash)
	}
	if err := store.VerifyChain([]*store.AuditEntry{first, second}); err != nil {
		t.Fatal(err)
	}
	if _, err := NextAuditEntry(first, &store.AuditEntry{UserID: "usr_mmmmmmmmmmmmmmmmmmmmmmmmmm", Event: store.EventDeviceEnrolled, Actor: testDevice, At: at}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("previous entry of another user: err = %v", err)
	}
	for name, bad := range map[string]*store.AuditEntry{
		"unknown event":  {UserID: testUser, Event: "user_deleted", Actor: "server", At: at},
		"no actor":       {UserID: testUser, Event: store.EventUserCreated, At: at},
		"bad user":       {UserID: "usr_x", Event: store.EventUserCreated, Actor: "server", At: at},
		"no time":        {UserID: testUser, Event: store.EventUserCreated, Actor: "server"},
		"details not JS": {UserID: testUser, Event: store.EventUserCreated, Actor: "server", At: at, Details: []byte("{")},
		"details large":  {UserID: testUser, Event: store.EventUserCreated, Actor: "server", At: at, Details: bytes.Repeat([]byte(" "), store.MaxDetailsLen+1)},
	} {
		if _, err := NextAuditEntry(nil, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

// FuzzCheckBlobName checks that every accepted name stays a single element
// inside its directory.
func FuzzCheckBlobName(f *testing.F) {
	for _, s := range []string{"a", testRecord, "..", ".", "../x", "a/b", "a\x00", strings.Repeat("z", 129), "x..y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if BlobName(name) != nil {
			return
		}
		if p := path.Join("blobs", name); path.Dir(p) != "blobs" || path.Base(p) != name {
			t.Fatalf("accepted %q escapes: %q", name, p)
		}
		if strings.ContainsAny(name, "/\\\x00") || len(name) > store.MaxBlobName {
			t.Fatalf("accepted %q", name)
		}
	})
}

// FuzzCheckText checks that accepted text is valid UTF-8 within the limit,
// and that the error never carries the whole input.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"", "Ada", "\xff", strings.Repeat("a", store.MaxTextLen+1), "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := Text("field", s, true)
		if err == nil && (s == "" || len(s) > store.MaxTextLen || !utf8.ValidString(s)) {
			t.Fatalf("accepted %q", s)
		}
		if err != nil && len(err.Error()) > 256 {
			t.Fatalf("error of %d bytes", len(err.Error()))
		}
	})
}

// FuzzCheckID checks the id checks on arbitrary strings: no panic, and a
// bounded error.
func FuzzCheckID(f *testing.F) {
	for _, s := range []string{testUser, testDevice, testRecord, "", "usr_", strings.Repeat("\xff", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		for _, err := range []error{ID("id", "usr", id), RecordID("id", id), KeyID("id", id), KeyPrefix(id)} {
			if err != nil && (!errors.Is(err, store.ErrInvalid) || len(err.Error()) > 256) {
				t.Fatalf("%q: %v", id, err)
			}
		}
	})
}

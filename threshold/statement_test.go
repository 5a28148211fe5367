package threshold

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func elems(n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = bytes.Repeat([]byte{byte(0xe0 + i)}, 32)
	}
	return out
}

func createStatement() Statement {
	return Statement{
		RequestID:       "req_1",
		Kind:            KindCreate,
		UserID:          "usr_2",
		RecordID:        "rec_3",
		Decision:        DecisionApprove,
		ContentSHA256:   bytes.Repeat([]byte{0xcc}, 32),
		RequesterID:     "cli_4",
		Purpose:         "tax",
		BlindedElements: elems(2),
		ExpiresAt:       time.Unix(0x0102030405, 999_000_000),
	}
}

func TestStatementMarshal(t *testing.T) {
	s := createStatement()
	got, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	want = append(want, "assent/approval/v1\x00"...)
	want = append(want, "\x00\x05req_1\x00\x06create\x00\x05usr_2\x00\x05rec_3\x00\x07approve"...)
	want = append(want, 0x00, 0x20)
	want = append(want, bytes.Repeat([]byte{0xcc}, 32)...)
	want = append(want, "\x00\x05cli_4\x00\x03tax"...)
	want = append(want, 0x00, 0x40)
	want = append(want, bytes.Repeat([]byte{0xe0}, 32)...)
	want = append(want, bytes.Repeat([]byte{0xe1}, 32)...)
	want = append(want, 0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05) // whole seconds only
	if !bytes.Equal(got, want) {
		t.Fatalf("Marshal =\n%x\nwant\n%x", got, want)
	}

	a := Statement{
		RequestID: "req_1", Kind: KindAccess, UserID: "usr_2", RecordID: "rec_3",
		Decision: DecisionDeny, BlindedElements: elems(1), ExpiresAt: time.Unix(0, 0),
	}
	got, err = a.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want = []byte("assent/approval/v1\x00\x00\x05req_1\x00\x06access\x00\x05usr_2\x00\x05rec_3\x00\x04deny" +
		"\x00\x00" + "\x00\x00" + "\x00\x00" + "\x00\x20" + strings.Repeat("\xe0", 32) + "\x00\x00\x00\x00\x00\x00\x00\x00")
	if !bytes.Equal(got, want) {
		t.Fatalf("access Marshal =\n%x\nwant\n%x", got, want)
	}
}

// Every field is signed: changing any one changes the bytes.
func TestStatementFieldsBound(t *testing.T) {
	base, err := func() ([]byte, error) { s := createStatement(); return s.Marshal() }()
	if err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*Statement){
		"request":    func(s *Statement) { s.RequestID = "req_9" },
		"user":       func(s *Statement) { s.UserID = "usr_9" },
		"record":     func(s *Statement) { s.RecordID = "rec_9" },
		"decision":   func(s *Statement) { s.Decision = DecisionDeny },
		"digest":     func(s *Statement) { s.ContentSHA256 = bytes.Repeat([]byte{0xcd}, 32) },
		"requester":  func(s *Statement) { s.RequesterID = "cli_9" },
		"purpose":    func(s *Statement) { s.Purpose = "Tax" },
		"no purpose": func(s *Statement) { s.Purpose = "" },
		"elements":   func(s *Statement) { s.BlindedElements = elems(1) },
		"expiry":     func(s *Statement) { s.ExpiresAt = s.ExpiresAt.Add(time.Second) },
		"boundary":   func(s *Statement) { s.RequesterID, s.Purpose = "cli_4t", "ax" },
	} {
		s := createStatement()
		change(&s)
		b, err := s.Marshal()
		if err != nil || bytes.Equal(b, base) {
			t.Errorf("%s: %v; statement bytes did not change", name, err)
		}
	}
}

func TestStatementInvalid(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Statement)
		msg    string
		alsoIs error
	}{
		{"no request id", func(s *Statement) { s.RequestID = "" }, "request id is empty", nil},
		{"no user id", func(s *Statement) { s.UserID = "" }, "user id is empty", nil},
		{"no record id", func(s *Statement) { s.RecordID = "" }, "record id is empty", nil},
		{"unknown kind", func(s *Statement) { s.Kind = "delete" }, `kind "delete"`, nil},
		{"kind case", func(s *Statement) { s.Kind = "Create" }, `kind "Create"`, nil},
		{"unknown decision", func(s *Statement) { s.Decision = "maybe" }, `decision "maybe"`, nil},
		{"empty decision", func(s *Statement) { s.Decision = "" }, `decision ""`, nil},
		{"create without digest", func(s *Statement) { s.ContentSHA256 = nil }, "content digest of a create is 0 bytes", nil},
		{"create short digest", func(s *Statement) { s.ContentSHA256 = s.ContentSHA256[:31] }, "is 31 bytes", nil},
		{"access with digest", func(s *Statement) { s.Kind = KindAccess }, "access must be empty", nil},
		{"no elements", func(s *Statement) { s.BlindedElements = nil }, "0 blinded elements", nil},
		{"too many elements", func(s *Statement) { s.BlindedElements = elems(65) }, "65 blinded elements", nil},
		{"short element", func(s *Statement) { s.BlindedElements[1] = s.BlindedElements[1][:31] }, "blinded element 1 is 31 bytes", nil},
		{"before 1970", func(s *Statement) { s.ExpiresAt = time.Unix(-1, 0) }, "before 1970", nil},
		{"zero time", func(s *Statement) { s.ExpiresAt = time.Time{} }, "before 1970", nil},
		{"long purpose", func(s *Statement) { s.Purpose = strings.Repeat("p", 65536) }, "purpose is 65536 bytes", ErrTooLong},
		{"long requester", func(s *Statement) { s.RequesterID = strings.Repeat("p", 65536) }, "requester id is 65536 bytes", ErrTooLong},
	} {
		s := createStatement()
		tc.change(&s)
		b, err := s.Marshal()
		if !errors.Is(err, ErrStatement) || b != nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v; want ErrStatement saying %q", tc.name, err, tc.msg)
		}
		if tc.alsoIs != nil && !errors.Is(err, tc.alsoIs) {
			t.Errorf("%s: %v is not %v", tc.name, err, tc.alsoIs)
		}
	}
	// A 64-element batch is the largest allowed.
	s := createStatement()
	s.BlindedElements = elems(64)
	if _, err := s.Marshal(); err != nil {
		t.Errorf("64 elements: %v", err)
	}
}

func TestEnrollStatement(t *testing.T) {
	pk := bytes.Repeat([]byte{0xa1}, 32)
	sp := bytes.Repeat([]byte{0xb2}, 32)
	got, err := EnrollStatement("usr_1", "dev_2", pk, sp, elems(1))
	if err != nil {
		t.Fatal(err)
	}
	want := "assent/enroll/v1\x00" + "\x00\x05usr_1" + "\x00\x05dev_2" + "\x00\x20" + string(pk) + "\x00\x20" + string(sp) +
		"\x00\x20" + strings.Repeat("\xe0", 32)
	if string(got) != want {
		t.Fatalf("EnrollStatement =\n%x\nwant\n%x", got, want)
	}

	for name, call := range map[string]func() ([]byte, error){
		"no user":        func() ([]byte, error) { return EnrollStatement("", "dev_2", pk, sp, elems(1)) },
		"no device":      func() ([]byte, error) { return EnrollStatement("usr_1", "", pk, sp, elems(1)) },
		"short oprf key": func() ([]byte, error) { return EnrollStatement("usr_1", "dev_2", pk[:31], sp, elems(1)) },
		"long sign key":  func() ([]byte, error) { return EnrollStatement("usr_1", "dev_2", pk, append(sp, 0), elems(1)) },
		"no elements":    func() ([]byte, error) { return EnrollStatement("usr_1", "dev_2", pk, sp, nil) },
		"long user":      func() ([]byte, error) { return EnrollStatement(strings.Repeat("u", 65536), "dev_2", pk, sp, elems(1)) },
	} {
		if b, err := call(); !errors.Is(err, ErrStatement) || b != nil {
			t.Errorf("%s: %v; want ErrStatement", name, err)
		}
	}
}

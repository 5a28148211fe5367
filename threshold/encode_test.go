package threshold

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestLP(t *testing.T) {
	for _, tc := range []struct {
		dst, s []byte
		want   []byte
	}{
		{nil, nil, []byte{0, 0}},
		{nil, []byte("abc"), []byte("\x00\x03abc")},
		{[]byte("pre"), []byte("x"), []byte("pre\x00\x01x")},
	} {
		got, err := LP(tc.dst, tc.s)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("LP(%q, %q) = %q, %v; want %q", tc.dst, tc.s, got, err, tc.want)
		}
	}

	max := bytes.Repeat([]byte{'a'}, 65535)
	got, err := LP(nil, max)
	if err != nil || len(got) != 65537 || got[0] != 0xff || got[1] != 0xff {
		t.Fatalf("LP of 65535 bytes: len %d, err %v; want prefix ff ff", len(got), err)
	}
	if got, err := LP([]byte("pre"), append(max, 'a')); !errors.Is(err, ErrTooLong) || got != nil {
		t.Fatalf("LP of 65536 bytes = %d bytes, %v; want nil, ErrTooLong", len(got), err)
	}
}

func TestRecordInfo(t *testing.T) {
	got, err := RecordInfo("usr_1", "0190a8f2-7b3c-7def-8123-456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	want := "assent/record/v1" + "\x00\x05usr_1" + "\x00\x240190a8f2-7b3c-7def-8123-456789abcdef"
	if string(got) != want {
		t.Fatalf("RecordInfo = %q, want %q", got, want)
	}

	got, err = EnrollCheckInfo("usr_1", "dev_22", bytes.Repeat([]byte{'k'}, 32))
	if err != nil {
		t.Fatal(err)
	}
	if want := "assent/enroll-check/v2\x00\x05usr_1\x00\x06dev_22\x00\x20" + strings.Repeat("k", 32); string(got) != want {
		t.Fatalf("EnrollCheckInfo = %q, want %q", got, want)
	}

	// The length prefixes keep field boundaries: moving a byte from one id
	// to the other changes the info.
	a, _ := RecordInfo("ab", "c")
	b, _ := RecordInfo("a", "bc")
	if bytes.Equal(a, b) {
		t.Fatal("RecordInfo does not separate its fields")
	}
}

func TestInfoTooLong(t *testing.T) {
	long := strings.Repeat("u", 65536)
	if _, err := RecordInfo(long, "r"); !errors.Is(err, ErrTooLong) {
		t.Errorf("RecordInfo with a 65536-byte user id: %v, want ErrTooLong", err)
	}
	if _, err := EnrollCheckInfo("u", long, make([]byte, 32)); !errors.Is(err, ErrTooLong) {
		t.Errorf("EnrollCheckInfo with a 65536-byte device id: %v, want ErrTooLong", err)
	}
	// Each field fits, but the info as a whole is over the oprf cap.
	half := strings.Repeat("u", 40000)
	if _, err := RecordInfo(half, half); !errors.Is(err, ErrTooLong) {
		t.Errorf("RecordInfo of 80 kB: %v, want ErrTooLong", err)
	}
	// The largest info that fits.
	fit := strings.Repeat("u", 65535-len(LabelRecord)-4-1)
	if info, err := RecordInfo(fit, "r"); err != nil || len(info) != 65535 {
		t.Errorf("RecordInfo of exactly 65535 bytes: len %d, %v", len(info), err)
	}
}

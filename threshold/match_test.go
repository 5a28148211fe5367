package threshold

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// matchVectors is the layout of testdata/match.json, computed outside Go.
type matchVectors struct {
	Vectors []struct {
		Description     string     `json:"description"`
		RequestID       string     `json:"request_id"`
		BlindedElements []hexBytes `json:"blinded_elements"`
		Message         hexBytes   `json:"message"`
		SHA256          hexBytes   `json:"sha256"`
		MatchCode       string     `json:"match_code"`
	} `json:"vectors"`
}

func readMatchVectors(tb testing.TB) matchVectors {
	tb.Helper()
	raw, err := os.ReadFile("testdata/match.json")
	if err != nil {
		tb.Fatal(err)
	}
	var v matchVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatal(err)
	}
	if len(v.Vectors) < 3 {
		tb.Fatalf("%d match vectors, want at least 3", len(v.Vectors))
	}
	return v
}

func hexElems(hs []hexBytes) [][]byte {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}

// TestMatchCodeGolden holds MatchCode to vectors computed independently
// (testdata/match.json), including the hashed message, so that a wrong
// label or length prefix fails here and not only in the final digits.
func TestMatchCodeGolden(t *testing.T) {
	for _, v := range readMatchVectors(t).Vectors {
		t.Run(v.Description, func(t *testing.T) {
			e := newEncoder(LabelMatch, 0)
			lp(&e, "request id", v.RequestID)
			lpConcat(&e, "blinded elements", hexElems(v.BlindedElements))
			msg, err := e.result()
			if err != nil || !bytes.Equal(msg, v.Message) {
				t.Fatalf("hashed message %x (%v), want %x", msg, err, v.Message)
			}
			got, err := MatchCode(v.RequestID, hexElems(v.BlindedElements))
			if err != nil {
				t.Fatal(err)
			}
			if got != v.MatchCode || !ValidMatchCode(got) {
				t.Fatalf("MatchCode = %q, want %q", got, v.MatchCode)
			}
		})
	}
}

// TestMatchCodeBindsEveryInput: another request id, another element, or one
// element more changes the hashed message (and so, but for a 1 in 100
// collision that the vectors rule out here, the code).
func TestMatchCodeBindsEveryInput(t *testing.T) {
	v := readMatchVectors(t).Vectors[0]
	base, err := MatchCode(v.RequestID, hexElems(v.BlindedElements))
	if err != nil {
		t.Fatal(err)
	}
	other := bytes.Clone(v.BlindedElements[0])
	other[0] ^= 1
	for name, got := range map[string]func() (string, error){
		"request id": func() (string, error) { return MatchCode(v.RequestID+"x", hexElems(v.BlindedElements)) },
		"element":    func() (string, error) { return MatchCode(v.RequestID, [][]byte{other}) },
	} {
		c, err := got()
		if err != nil {
			t.Fatal(name, err)
		}
		if c == base {
			t.Errorf("changing the %s left the code %q", name, c)
		}
	}
}

func TestMatchCodeRefusesMalformed(t *testing.T) {
	el := bytes.Repeat([]byte{7}, 32)
	cases := map[string]struct {
		id      string
		blinded [][]byte
		want    error
	}{
		"empty request id": {"", [][]byte{el}, ErrStatement},
		"no elements":      {"req_x", nil, ErrStatement},
		"short element":    {"req_x", [][]byte{el[:31]}, ErrStatement},
		"65 elements":      {"req_x", elems(65), ErrStatement},
		"over-long id":     {strings.Repeat("r", 0x10000), [][]byte{el}, ErrTooLong},
	}
	for name, c := range cases {
		code, err := MatchCode(c.id, c.blinded)
		if !errors.Is(err, c.want) || code != "" {
			t.Errorf("%s: MatchCode = %q, %v; want %v", name, code, err, c.want)
		}
	}
}

func TestMatchCodeEqual(t *testing.T) {
	cases := []struct {
		typed, want string
		ok          bool
	}{
		{"43", "43", true},
		{" 05\n", "05", true},
		{"5", "05", false},
		{"043", "43", false},
		{"44", "43", false},
		{"", "43", false},
		{"4 3", "43", false},
		{"٤٣", "43", false}, // Arabic-Indic digits are not ASCII digits
		{"43", "", false},
		{"ab", "ab", false},
	}
	for _, c := range cases {
		if got := MatchCodeEqual(c.typed, c.want); got != c.ok {
			t.Errorf("MatchCodeEqual(%q, %q) = %v, want %v", c.typed, c.want, got, c.ok)
		}
	}
}

// FuzzMatchCodeEqual: any typed text matches only when, trimmed, it is the
// two digits wanted; nothing panics.
func FuzzMatchCodeEqual(f *testing.F) {
	for _, v := range readMatchVectors(f).Vectors {
		f.Add(v.MatchCode, v.MatchCode)
		f.Add(" "+v.MatchCode+"\r\n", v.MatchCode)
	}
	f.Add("1", "01")
	f.Fuzz(func(t *testing.T, typed, want string) {
		got := MatchCodeEqual(typed, want)
		expect := ValidMatchCode(want) && strings.TrimSpace(typed) == want
		if got != expect {
			t.Fatalf("MatchCodeEqual(%q, %q) = %v", typed, want, got)
		}
	})
}

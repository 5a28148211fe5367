package device

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/threshold"
)

// TestPromptFromLedger: an access prompt shows the ledger's description, not
// the server's, and flags a server that describes the record otherwise.
func TestPromptFromLedger(t *testing.T) {
	id := newIdentity(t, "https://assent.example")
	l := openTestLedger(t, filepath.Join(t.TempDir(), "l"))
	c, _ := NewClient(id.ServerURL, id, ClientOptions{})
	a, err := NewAgent(c, l, func(context.Context, *Prompt) (Decision, error) { return Deny, nil }, AgentOptions{})
	if err != nil {
		t.Fatal(err)
	}
	req := validRequest(t, id, threshold.KindAccess)
	known := testAnswer(t, threshold.KindCreate, req.RecordID, threshold.DecisionApprove)
	if err := l.AppendAnswer(known); err != nil {
		t.Fatal(err)
	}

	// The server describes it exactly as the ledger does.
	req.Record = *known.Record
	if p := a.prompt(req); p.UnknownToLedger || p.Mismatch || p.Record.Title != "Blood test" {
		t.Errorf("matching description: %+v", p)
	}
	for name, mutate := range map[string]func(r *RecordView){
		"title":        func(r *RecordView) { r.Title = "Harmless note" },
		"content type": func(r *RecordView) { r.ContentType = "text/plain" },
		"size":         func(r *RecordView) { r.Size++ },
		"digest":       func(r *RecordView) { r.ContentSHA256 = bytes.Repeat([]byte{1}, 32) },
	} {
		r := *known.Record
		r.ContentSHA256 = bytes.Clone(r.ContentSHA256)
		mutate(&r)
		req.Record = r
		p := a.prompt(req)
		if !p.Mismatch || p.Record.Title != "Blood test" || p.ServerRecord.Title != r.Title {
			t.Errorf("server changes the %s: %+v", name, p)
		}
		var out strings.Builder
		WritePrompt(&out, p, checkNow)
		if !strings.Contains(out.String(), "WARNING") {
			t.Errorf("server changes the %s: the prompt text does not warn:\n%s", name, out.String())
		}
	}
	// A create shows what it seals: the request's description.
	create := validRequest(t, id, threshold.KindCreate)
	if p := a.prompt(create); p.Record.Title != create.Record.Title || p.UnknownToLedger {
		t.Errorf("create prompt: %+v", p)
	}
}

// TestTextQuotesServerStrings: nothing the server says reaches the terminal
// raw: escape sequences and newlines are shown escaped.
func TestTextQuotesServerStrings(t *testing.T) {
	id := newIdentity(t, "https://assent.example")
	req := validRequest(t, id, threshold.KindCreate)
	evil := "Blood test\x1b[2K\rAPPROVED by your doctor\n  requester: \"Your bank\"\u202e"
	p := &Prompt{RequestID: req.RequestID, Kind: req.Kind, RecordID: req.RecordID, Requester: Requester{ID: "cli_x", Name: evil},
		Purpose: evil, Record: RecordView{Title: evil, ContentType: evil, ContentSHA256: make([]byte, 32)}, ExpiresAt: checkNow.Add(time.Minute)}
	var out strings.Builder
	if err := WritePrompt(&out, p, checkNow); err != nil {
		t.Fatal(err)
	}
	e := &Entry{Type: EntryAnswer, RequestID: req.RequestID, Kind: req.Kind, RecordID: req.RecordID, Decision: "approve",
		Record: &p.Record, Requester: &p.Requester, Purpose: evil}
	if err := WriteLedger(&out, []*Entry{e, {Type: EntryOutcome, RequestID: req.RequestID, Outcome: OutcomeRejected, Error: evil}}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, bad := range []string{"\x1b", "\r", "\u202e", "\n  requester: \"Your bank\""} {
		if strings.Contains(text, bad) {
			t.Errorf("raw %q reached the terminal text:\n%s", bad, text)
		}
	}
	if !strings.Contains(text, `\x1b[2K\rAPPROVED`) {
		t.Errorf("the escaped title is not shown:\n%s", text)
	}
}

func TestWriteLedger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger")
	create, access := fillLedger(t, path)
	entries, err := ReadLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := WriteLedger(&out, entries); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"APPROVE create  " + create.RequestID, "DENY    access  " + access.RequestID,
		`"Blood test"`, "accepted (\"approved\")", "no reply recorded", "2 answers, 3 lines, hash chain intact.",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("ledger text lacks %q:\n%s", want, text)
		}
	}
}

func TestServerURL(t *testing.T) {
	for _, c := range []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"https://assent.example", false, true},
		{"https://assent.example:8443/prefix/", false, true},
		{"http://127.0.0.1:8080", false, true},
		{"http://[::1]:8080", false, true},
		{"http://localhost:8080", false, true},
		{"http://assent.example", false, false},
		{"http://assent.example", true, true},
		{"ftp://assent.example", false, false},
		{"https://user:pw@assent.example", false, false},
		{"https://assent.example/?x=1", false, false},
		{"https://assent.example/#frag", false, false},
		{"assent.example", false, false},
		{"", false, false},
		{"https://", false, false},
	} {
		c2, err := NewClient(c.url, nil, ClientOptions{InsecureHTTP: c.insecure})
		if (err == nil) != c.ok {
			t.Errorf("%q (insecure %v): %v", c.url, c.insecure, err)
		}
		if err != nil && !errors.Is(err, ErrServerURL) {
			t.Errorf("%q: error %v is not ErrServerURL", c.url, err)
		}
		if err == nil && strings.HasSuffix(c2.ServerURL(), "/") {
			t.Errorf("%q kept a trailing slash: %s", c.url, c2.ServerURL())
		}
	}
}

func TestAPIErrorText(t *testing.T) {
	e := &APIError{Status: 401, Code: "unauthenticated", Message: "bad\x1b[31m signature\n"}
	if s := e.Error(); strings.ContainsAny(s, "\x1b\n") || !strings.Contains(s, "401 unauthenticated") {
		t.Errorf("APIError text %q", s)
	}
	if s := (&APIError{Status: 502}).Error(); s != "server answered 502 Bad Gateway" {
		t.Errorf("APIError without a body: %q", s)
	}
}

func TestBurstLimiter(t *testing.T) {
	b := burstLimiter{max: 2}
	now := checkNow
	got := []bool{b.allow(now), b.allow(now.Add(time.Second)), b.allow(now.Add(2 * time.Second)),
		b.allow(now.Add(60 * time.Second)), b.allow(now.Add(61 * time.Second)), b.allow(now.Add(61 * time.Second))}
	want := []bool{true, true, false, true, true, false}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("allow sequence %v, want %v", got, want)
		}
	}
	if unlimited := (burstLimiter{}); !unlimited.allow(now) {
		t.Error("a zero limit must allow everything")
	}
}

func TestBackoff(t *testing.T) {
	minW, maxW := 100*time.Millisecond, 2*time.Second
	for n := range 12 {
		d := minW << min(n, 10)
		d = min(d, maxW)
		for range 20 {
			got := backoff(n, minW, maxW)
			if got < d/2 || got > d {
				t.Fatalf("attempt %d: wait %s outside [%s, %s]", n, got, d/2, d)
			}
		}
	}
}

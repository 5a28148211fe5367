package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/threshold"
)

// TestTerminalPolicyMatch: with number matching required, the terminal
// asks for the code instead of y/N; an empty line, n or no denies, and
// anything else is handed to the agent as the typed code (the agent, not
// the policy, compares it). Without it, only y or yes approves.
func TestTerminalPolicyMatch(t *testing.T) {
	for _, tc := range []struct {
		require  bool
		line     string
		want     device.Decision
		typed    string
		question string
	}{
		{true, " 42 ", device.Approve, "42", "type the 2-digit code"},
		{true, "07", device.Approve, "07", "type the 2-digit code"},
		{true, "y", device.Approve, "y", "type the 2-digit code"}, // not a code: the agent denies it as a failed match
		{true, "", device.Deny, "", "type the 2-digit code"},
		{true, "No", device.Deny, "", "type the 2-digit code"},
		{false, "y", device.Approve, "", "Approve? [y/N]"},
		{false, "42", device.Deny, "", "Approve? [y/N]"},
	} {
		var out syncBuffer
		var mu sync.Mutex
		// The line is typed once the question is on the screen: the policy
		// drops lines typed before it asks.
		typed := &afterQuestion{out: &out, question: tc.question, r: strings.NewReader(tc.line + "\n")}
		policy := terminalPolicy(&mu, &out, newLineReader(typed))
		p := &device.Prompt{RequestID: "req_x", Kind: threshold.KindCreate, RequireMatch: tc.require}
		d, err := policy(context.Background(), p)
		if err != nil || d != tc.want || p.MatchTyped != tc.typed {
			t.Errorf("require %v, line %q: %q %q %v; want %q %q", tc.require, tc.line, d, p.MatchTyped, err, tc.want, tc.typed)
		}
		if !strings.Contains(out.String(), tc.question) {
			t.Errorf("require %v: the terminal was asked\n%s", tc.require, out.String())
		}
	}
}

// afterQuestion reads r once out shows question (or after five seconds).
type afterQuestion struct {
	out      *syncBuffer
	question string
	r        io.Reader
	asked    bool
}

func (a *afterQuestion) Read(p []byte) (int, error) {
	for deadline := time.Now().Add(5 * time.Second); !a.asked && time.Now().Before(deadline); {
		a.asked = strings.Contains(a.out.String(), a.question)
		if !a.asked {
			time.Sleep(time.Millisecond)
		}
	}
	return a.r.Read(p)
}

// TestDeviceRunRequireMatch: `assent device run --require-match` against
// `assent serve`: --auto-approve still seals (it computes the code); on the
// terminal, the code the requester got in its 202 seals, a wrong one
// rejects and says why, in the run's output and in the ledger.
func TestDeviceRunRequireMatch(t *testing.T) {
	e := newCLIEnv(t)
	ctx := context.Background()
	ks := filepath.Join(e.dir, "phone", "device.key")
	common := []string{"--keystore", ks, "--passphrase-file", e.pass}
	user := e.newUser()
	if _, _, err := e.device(ctx, "", append([]string{"enroll", "--server", e.url, "--code", user.EnrollmentCode}, common...)...); err != nil {
		t.Fatal(err)
	}

	auto := e.record(user.UserID, "automatic", []byte("a"))
	_, _, stop := e.running(strings.NewReader(""), append([]string{"run", "--require-match", "--auto-approve"}, common...)...)
	if st := e.recordState(auto); st != "sealed" {
		t.Errorf("record under --require-match --auto-approve: %s", st)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	pr, pw := io.Pipe()
	stdout, _, stop := e.running(pr, append([]string{"run", "--require-match"}, common...)...)
	wrong := e.upload(user.UserID, "typed wrong", []byte("b"))
	if !threshold.ValidMatchCode(wrong.MatchCode) {
		t.Fatalf("202 match_code %q", wrong.MatchCode)
	}
	waitFor(t, stdout, "type the 2-digit code the requester shows")
	bad := "00"
	if wrong.MatchCode == bad {
		bad = "01"
	}
	pw.Write([]byte(bad + "\n"))
	if st := e.recordState(wrong.RecordID); st != "rejected" {
		t.Errorf("record after a wrong code: %s", st)
	}
	waitFor(t, stdout, "the code typed is not the request's match code")
	right := e.upload(user.UserID, "typed right", []byte("c"))
	waitFor(t, stdout, right.RequestID)
	waitFor(t, stdout, "(Enter denies): ")
	pw.Write([]byte(right.MatchCode + "\n"))
	if st := e.recordState(right.RecordID); st != "sealed" {
		t.Errorf("record after the right code: %s", st)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	out, _, err := e.device(ctx, "", "ledger", "--keystore", ks)
	if err != nil || strings.Count(out, "denied: the code typed was not the request's match code") != 1 || strings.Count(out, "APPROVE create") != 2 {
		t.Errorf("ledger: %v\n%s", err, out)
	}
}

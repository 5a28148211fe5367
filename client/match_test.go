package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/nodetest"
	"github.com/assent-dev/assent/threshold"
)

// typist is the user of a device that requires number matching: for each
// request it types the code it is given for that request id, as a person
// types what the requester's screen shows.
type typist struct {
	mu    sync.Mutex
	codes map[string]chan string
	seen  map[string]*device.Prompt
}

func (ty *typist) ch(id string) chan string {
	ty.mu.Lock()
	defer ty.mu.Unlock()
	c, ok := ty.codes[id]
	if !ok {
		c = make(chan string, 1)
		ty.codes[id] = c
	}
	return c
}

// show gives the user the code the requester shows for request id.
func (ty *typist) show(id, code string) { ty.ch(id) <- code }

func (ty *typist) policy(ctx context.Context, p *device.Prompt) (device.Decision, error) {
	ty.mu.Lock()
	ty.seen[p.RequestID] = p
	ty.mu.Unlock()
	if !p.RequireMatch {
		return "", errors.New("the prompt does not ask for the match code")
	}
	select {
	case code := <-ty.ch(p.RequestID):
		p.MatchTyped = code
		return device.Approve, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// otherCode is a valid match code that is not code.
func otherCode(code string) string {
	var n int
	fmt.Sscanf(code, "%d", &n)
	return fmt.Sprintf("%02d", (n+1)%100)
}

// TestMatchCode: both 202s (upload, access) carry a two-digit match_code
// that the client exposes and that the device, computing it itself from the
// request, agrees with: typing it approves (record sealed, session open);
// typing another denies (record rejected, session denied), and the server's
// audit chain records the deny with reason match_failed, its statement and
// signature being those of a plain deny.
func TestMatchCode(t *testing.T) {
	dir := t.TempDir()
	w := startWorld(t, dir)
	t.Cleanup(w.stop)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := w.c
	u, err := c.CreateUser(ctx, "p-match", "Ada")
	check(t, err)
	ty := &typist{codes: map[string]chan string{}, seen: map[string]*device.Prompt{}}
	d, err := nodetest.EnrollDeviceWith(ctx, w.node.URL, u.EnrollmentCode, "phone", filepath.Join(dir, "ledger"), ty.policy,
		device.AgentOptions{RequireMatch: true}, device.ClientOptions{Transport: device.HTTPTransport(&http.Client{Transport: w.val})})
	check(t, err)
	t.Cleanup(func() { _ = d.Close() })

	upload := func(title string) *api.Pending {
		t.Helper()
		rec, err := c.CreateRecord(ctx, u.UserID, api.CreateRecordRequest{Title: title, ContentType: "text/plain", Purpose: "storage"})
		check(t, err)
		p, err := c.Upload(ctx, rec.RecordID, strings.NewReader("content of "+title), -1)
		check(t, err)
		if !threshold.ValidMatchCode(p.MatchCode) {
			t.Fatalf("upload 202 match_code %q, want two digits", p.MatchCode)
		}
		return p
	}
	// The right code seals.
	good := upload("typed right")
	ty.show(good.RequestID, good.MatchCode)
	rec, err := c.AwaitRecord(ctx, good.RecordID)
	check(t, err)
	if rec.State != api.RecordSealed {
		t.Fatalf("record with the right code typed: %s", rec.State)
	}
	// The device computed the same code itself.
	ty.mu.Lock()
	if p := ty.seen[good.RequestID]; p == nil || p.MatchCode() != good.MatchCode {
		t.Fatalf("device's code %v, server's %q", p, good.MatchCode)
	}
	ty.mu.Unlock()

	// A wrong code rejects.
	bad := upload("typed wrong")
	ty.show(bad.RequestID, otherCode(bad.MatchCode))
	rejected, err := c.AwaitRecord(ctx, bad.RecordID)
	check(t, err)
	if rejected.State != api.RecordRejected {
		t.Fatalf("record with a wrong code typed: %s", rejected.State)
	}

	// Access: a wrong code denies the session, the right one opens it.
	acc, err := c.RequestAccess(ctx, good.RecordID, "second opinion")
	check(t, err)
	if !threshold.ValidMatchCode(acc.MatchCode) || acc.SessionID == "" {
		t.Fatalf("access 202 %+v", acc)
	}
	ty.show(acc.RequestID, otherCode(acc.MatchCode))
	s, err := c.AwaitSession(ctx, acc.SessionID)
	check(t, err)
	if s.State != api.SessionDenied {
		t.Fatalf("session with a wrong code typed: %s", s.State)
	}
	acc2, err := c.RequestAccess(ctx, good.RecordID, "second opinion, again")
	check(t, err)
	ty.show(acc2.RequestID, acc2.MatchCode)
	s, err = c.AwaitSession(ctx, acc2.SessionID)
	check(t, err)
	if s.State != api.SessionOpen {
		t.Fatalf("session with the right code typed: %s", s.State)
	}
	var got bytes.Buffer
	_, err = c.Download(ctx, s.SessionID, &got)
	check(t, err)
	if got.String() != "content of typed right" {
		t.Fatalf("download %q", got.String())
	}

	// The audit chain: each wrong code is a deny with reason match_failed;
	// the approvals and no other entry carry a reason.
	entries, err := c.Audit(ctx, u.UserID)
	check(t, err)
	failed := map[string]bool{}
	for _, e := range entries {
		var det struct {
			Reason    string `json:"reason"`
			Statement []byte `json:"statement"`
		}
		if len(e.Details) > 0 {
			check(t, json.Unmarshal(e.Details, &det))
		}
		switch {
		case e.Event == "denied" && det.Reason == api.ReasonMatchFailed:
			st, err := threshold.ParseStatement(det.Statement)
			check(t, err)
			if st.Decision != threshold.DecisionDeny || st.RequestID != e.Subject {
				t.Errorf("match_failed entry %d: statement %+v", e.Seq, st)
			}
			failed[e.Subject] = true
		case det.Reason != "":
			t.Errorf("audit entry %d (%s) has reason %q", e.Seq, e.Event, det.Reason)
		}
	}
	if len(failed) != 2 || !failed[bad.RequestID] || !failed[acc.RequestID] {
		t.Fatalf("match_failed denies audited for %v, want %s and %s", failed, bad.RequestID, acc.RequestID)
	}
	for _, p := range w.val.Problems("uploadContent", "requestAccess", "answerRequest") {
		t.Errorf("OpenAPI: %s", p)
	}
}

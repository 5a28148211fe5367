package device_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/threshold"
)

// TestRequireMatch runs an agent that requires number matching against a
// real server: the code typed is compared with the one the device computes
// from the request, which is the server's 202 match_code. The right code
// seals; a wrong code, or an approval with no code typed, is sent as a
// deny with reason match_failed (in the ledger too) and the server audits
// it so; a plain deny carries no reason.
func TestRequireMatch(t *testing.T) {
	e := newServerEnv(t, func(c *server.Config) { c.UserRequesterRate = -1 })
	id := e.enroll()
	var typed func(p *device.Prompt) (device.Decision, string)
	policy := func(_ context.Context, p *device.Prompt) (device.Decision, error) {
		if !p.RequireMatch {
			t.Error("the prompt does not ask for the match code")
		}
		d, code := typed(p)
		p.MatchTyped = code
		return d, nil
	}
	a, c, l := e.newAgent(id, "", policy, device.AgentOptions{RequireMatch: true})

	type result struct {
		decision  device.Decision
		decidedBy string
		reason    string
		state     string
	}
	run := func(name string, decide func(shown string) (device.Decision, string)) result {
		t.Helper()
		p := e.createRecord(id.UserID, name, []byte("content of "+name))
		if !threshold.ValidMatchCode(p.MatchCode) {
			t.Fatalf("%s: 202 match_code %q", name, p.MatchCode)
		}
		typed = func(pr *device.Prompt) (device.Decision, string) {
			if pr.MatchCode() != p.MatchCode {
				t.Errorf("%s: the device computes %q, the server answered %q", name, pr.MatchCode(), p.MatchCode)
			}
			return decide(p.MatchCode)
		}
		res, err := a.Handle(e.ctx, p.RequestID)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ans, _, ok := l.Answer(p.RequestID)
		if !ok || ans.Response == nil || ans.DecidedBy != res.DecidedBy {
			t.Fatalf("%s: ledger answer %+v", name, ans)
		}
		return result{res.Decision, res.DecidedBy, ans.Response.Reason, e.waitRecord(p.RecordID).State}
	}
	wrong := func(shown string) string {
		if shown == "00" {
			return "01"
		}
		return "00"
	}
	for name, tc := range map[string]struct {
		decide func(shown string) (device.Decision, string)
		want   result
	}{
		"right code":    {func(s string) (device.Decision, string) { return device.Approve, " " + s + "\n" }, result{device.Approve, device.DecidedByPolicy, "", api.RecordSealed}},
		"wrong code":    {func(s string) (device.Decision, string) { return device.Approve, wrong(s) }, result{device.Deny, device.DecidedByMatch, api.ReasonMatchFailed, api.RecordRejected}},
		"no code typed": {func(string) (device.Decision, string) { return device.Approve, "" }, result{device.Deny, device.DecidedByMatch, api.ReasonMatchFailed, api.RecordRejected}},
		"three digits":  {func(s string) (device.Decision, string) { return device.Approve, s + "0" }, result{device.Deny, device.DecidedByMatch, api.ReasonMatchFailed, api.RecordRejected}},
		"plain deny":    {func(s string) (device.Decision, string) { return device.Deny, s }, result{device.Deny, device.DecidedByPolicy, "", api.RecordRejected}},
	} {
		if got := run(name, tc.decide); got != tc.want {
			t.Errorf("%s: %+v, want %+v", name, got, tc.want)
		}
	}

	// The server's audit chain, as the device verifies it: exactly the three
	// failed matches are denies with reason match_failed.
	entries, err := c.Audit(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, en := range entries {
		if en.Event != "denied" && en.Event != "approved" {
			continue
		}
		var det struct{ Reason string }
		if err := json.Unmarshal(en.Details, &det); err != nil {
			t.Fatal(err)
		}
		reasons[en.Event+"/"+det.Reason]++
	}
	if want := map[string]int{"approved/": 1, "denied/" + api.ReasonMatchFailed: 3, "denied/": 1}; !mapsEqual(reasons, want) {
		t.Errorf("audited answers %v, want %v", reasons, want)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestServerRefusesBadReason: the server takes a reason only on a deny and
// only a reason of the api package (400 otherwise), and changes nothing.
func TestServerRefusesBadReason(t *testing.T) {
	e := newServerEnv(t, nil)
	id := e.enroll()
	c := e.client(id, device.ClientOptions{})
	p := e.createRecord(id.UserID, "t", []byte("x"))
	req, err := c.GetRequest(e.ctx, p.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(decision string) []byte {
		msg, err := threshold.ApprovalStatement(req, decision).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return threshold.Sign(id.SigningKey, msg)
	}
	for name, r := range map[string]*device.Response{
		"reason on an approve": {Decision: threshold.DecisionApprove, Signature: sign(threshold.DecisionApprove), Reason: api.ReasonMatchFailed},
		"unknown reason":       {Decision: threshold.DecisionDeny, Signature: sign(threshold.DecisionDeny), Reason: "tired"},
	} {
		_, err := c.Respond(e.ctx, p.RequestID, r)
		var ae *device.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			t.Errorf("%s: %v, want 400", name, err)
		}
	}
	// Still pending: a well-formed deny with the reason is taken.
	state, err := c.Respond(e.ctx, p.RequestID, &device.Response{Decision: threshold.DecisionDeny, Signature: sign(threshold.DecisionDeny), Reason: api.ReasonMatchFailed})
	if err != nil || state != api.RequestDenied {
		t.Fatalf("deny with reason: %q, %v", state, err)
	}
}

package server

import (
	"net/http"
	"testing"

	"github.com/assent-dev/assent/threshold"
)

// TestMatchCodeOnBothAccepted: the 202 of an upload and of an access
// request carry the match code of the request the device is sent: the one
// threshold.MatchCode gives for its id and blinded elements, so that the
// device, computing it from what it is shown, finds the same two digits.
func TestMatchCodeOnBothAccepted(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	check := func(what string, p wirePending) {
		t.Helper()
		q := d.request(t, p.RequestID)
		want, err := threshold.MatchCode(q.RequestID, q.BlindedElements)
		if err != nil {
			t.Fatal(err)
		}
		if p.MatchCode != want {
			t.Errorf("%s: match_code %q, the request's is %q", what, p.MatchCode, want)
		}
	}
	rid := e.sealed(t, d, []byte("sealed content"))
	up := e.upload(t, e.createRecord(t, d.userID), []byte("another"))
	check("upload", up)
	acc := e.askAccess(t, rid, e.reader)
	check("access", acc)
	// A fresh blinding per request: two access requests to one record get
	// their own codes (equal by chance one time in a hundred, never the
	// same request id).
	again := e.askAccess(t, rid, e.reader)
	check("second access", again)
	if again.RequestID == acc.RequestID {
		t.Fatal("two access requests share a request id")
	}
	d.answer(t, d.request(t, acc.RequestID), threshold.DecisionDeny).want(t, http.StatusOK)
}

package server

import (
	"net/http"
	"testing"

	"github.com/assent-dev/assent/threshold"
)

// BenchmarkAnswerApproval measures the server's handling of one create
// approval that lands on the node holding the request's secrets: the timed
// part is the device's POST of its answer, which the server verifies,
// records and processes inline (finalize, server share, KEK, wrap, seal)
// before replying. Making the record and the device's evaluation and
// signing run with the timer stopped. "deny" is the same call without the
// POPRF work, the baseline to compare against in the same process.
func BenchmarkAnswerApproval(b *testing.B) {
	for _, decision := range []string{threshold.DecisionApprove, threshold.DecisionDeny} {
		b.Run(decision, func(b *testing.B) {
			e := newEnv(b, nil)
			d := e.userWithDevice(b)
			content := randomContent(b, 1024)
			for range b.N {
				b.StopTimer()
				rid := e.createRecord(b, d.userID)
				p := e.upload(b, rid, content)
				a := d.answerBody(b, d.request(b, p.RequestID), decision)
				b.StartTimer()
				d.post(b, p.RequestID, a).want(b, http.StatusOK)
			}
		})
	}
}

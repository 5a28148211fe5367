package server

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-dev/assent/server/push"
)

// scrape reads the server's metrics as name{labels} -> value.
func scrape(t *testing.T, s *Server) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	s.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("metrics: %d", rec.Code)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(io.Reader(rec.Body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetricsAfterSealAndOpen: a seal, an open, a download and a denial
// move the counters they should, and no label carries an id.
func TestMetricsAfterSealAndOpen(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	content := randomContent(t, 100000)
	before := scrape(t, e.srv)

	rid := e.sealed(t, d, content)
	sid := e.openSession(t, d, rid)
	e.do(http.MethodGet, "/v1/sessions/"+sid+"/content", e.reader, nil).want(t, http.StatusOK)
	denied := e.askAccess(t, rid, e.reader)
	d.answer(t, d.request(t, denied.RequestID), "deny").want(t, http.StatusOK)
	e.do(http.MethodGet, "/v1/records/"+rid, "assent_bad", nil).want(t, http.StatusUnauthorized)

	after := scrape(t, e.srv)
	moved := func(series string, by float64) {
		t.Helper()
		if got := after[series] - before[series]; got != by {
			t.Errorf("%s moved by %v, want %v", series, got, by)
		}
	}
	moved(`assent_decisions_total{decision="approve",kind="create"}`, 1)
	moved(`assent_decisions_total{decision="approve",kind="access"}`, 1)
	moved(`assent_decisions_total{decision="deny",kind="access"}`, 1)
	moved(`assent_decisions_total{decision="deny",kind="create"}`, 0)
	moved(`assent_content_sealed_bytes_total`, float64(len(content)))
	moved(`assent_content_delivered_bytes_total`, float64(len(content)))
	moved(`assent_http_requests_total{method="PUT",route="/v1/records/:rid/content",status="202"}`, 1)
	moved(`assent_http_requests_total{method="GET",route="/v1/sessions/:sid/content",status="200"}`, 1)
	moved(`assent_http_requests_total{method="GET",route="/v1/records/:rid",status="401"}`, 1)
	moved(`assent_audit_events_total{event="record_sealed"}`, 1)
	// On a single node the seal is one combined store call.
	if after[`assent_store_operations_total{op="AnswerAndSeal",result="ok"}`] != 1 ||
		after[`assent_store_operation_duration_seconds_count{op="AnswerAndSeal"}`] != 1 {
		t.Error("the store's AnswerAndSeal was not counted and timed once")
	}
	if after[`assent_http_request_duration_seconds_count{method="POST",route="/v1/records/:rid/access"}`] != 2 {
		t.Error("access requests not timed")
	}
	if _, ok := after["assent_pending_requests"]; !ok {
		t.Error("no pending-requests gauge")
	}
	for series := range after {
		for _, id := range []string{rid, sid, d.id, d.userID, "usr_", "dev_", "ses_", "req_", "cli_"} {
			if strings.Contains(series, id) {
				t.Errorf("series %s carries an id", series)
			}
		}
	}
}

// TestMetricsPush: webhook deliveries and failures are counted apart.
func TestMetricsPush(t *testing.T) {
	secret := []byte(strings.Repeat("k", push.MinSecretSize))
	var fails atomic.Bool
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fails.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer relay.Close()
	wh, err := push.NewWebhook(relay.URL, secret, relay.Client(), push.WithRetry(1, time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil, func(d *Deps) { d.Notifiers = []push.Notifier{wh} })
	d := e.userWithDevice(t)
	e.upload(t, e.createRecord(t, d.userID), []byte("push me"))
	const ok, failed = `assent_push_notifications_total{notifier="webhook",result="delivered"}`, `assent_push_notifications_total{notifier="webhook",result="failed"}`
	waitFor(t, func() bool { return scrape(t, e.srv)[ok] == 1 }, "a delivered push counted")
	fails.Store(true)
	e.upload(t, e.createRecord(t, d.userID), []byte("push me"))
	waitFor(t, func() bool { return scrape(t, e.srv)[failed] == 1 }, "a failed push counted")
	if scrape(t, e.srv)[ok] != 1 {
		t.Error("the failure counted as delivered")
	}
}

package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/server/push"
	"github.com/assent-dev/assent/store"
)

// metrics are the server's Prometheus metrics, served by MetricsHandler on
// a listener of their own (assent serve --metrics-listen). No label ever
// holds a user, record, session, request or device id, a client id, or
// anything secret: labels are route patterns, methods, statuses, store
// operation names, event names, kinds and notifier kinds, all from fixed
// sets.
type metrics struct {
	reg *prometheus.Registry

	requests     *prometheus.CounterVec   // route, method, status
	latency      *prometheus.HistogramVec // route, method
	decisions    *prometheus.CounterVec   // kind, decision
	auditEvents  *prometheus.CounterVec   // event
	storeOps     *prometheus.CounterVec   // op, result
	storeLatency *prometheus.HistogramVec // op
	bytesSealed  prometheus.Counter
	bytesSent    prometheus.Counter
	pushes       *prometheus.CounterVec // notifier, result
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "assent_http_requests_total", Help: "HTTP requests answered, by route pattern, method and status.",
	}, []string{"route", "method", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "assent_http_request_duration_seconds", Help: "Time to answer an HTTP request (long polls and streams included), by route pattern and method.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"route", "method"})
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "assent_decisions_total", Help: "Device answers that took effect, by request kind (create, access) and decision (approve, deny).",
	}, []string{"kind", "decision"})
	m.auditEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "assent_audit_events_total", Help: "Audit chain entries appended, by event.",
	}, []string{"event"})
	m.storeOps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "assent_store_operations_total", Help: "Store operations, by operation and result (ok, not_found, conflict, expired, invalid, unavailable, error).",
	}, []string{"op", "result"})
	m.storeLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "assent_store_operation_duration_seconds", Help: "Store operation latency, by operation.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"op"})
	m.bytesSealed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "assent_content_sealed_bytes_total", Help: "Plaintext bytes of records sealed by this node.",
	})
	m.bytesSent = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "assent_content_delivered_bytes_total", Help: "Plaintext bytes delivered by session downloads.",
	})
	m.pushes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "assent_push_notifications_total", Help: "Notifications handed to a push notifier (webhook, webpush, ...), by notifier and result (delivered, failed).",
	}, []string{"notifier", "result"})
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.decisions, m.auditEvents, m.storeOps, m.storeLatency, m.bytesSealed, m.bytesSent, m.pushes} {
		f(c)
	}
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "assent_pending_requests", Help: "Requests waiting for a device whose secrets this node holds.",
	}, func() float64 { return float64(s.pending.len()) }))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "assent_open_sessions", Help: "Access sessions whose data key this node holds.",
	}, func() float64 { return float64(s.keys.len()) }))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "assent_device_streams", Help: "Devices connected to the event stream of this node.",
	}, func() float64 { return float64(s.hub.Stats().Subscribers) }))
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The decisions every node can see, present at 0 from the start.
	for _, k := range []string{api.KindCreate, api.KindAccess} {
		for _, d := range []string{api.DecisionApprove, api.DecisionDeny} {
			m.decisions.WithLabelValues(k, d)
		}
	}
	return m
}

// MetricsHandler serves the server's metrics in the Prometheus exposition
// format. It is meant for a listener of its own, not the API's.
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
}

// decisionOf maps the audit events that end a request to its kind and
// decision.
var decisionOf = map[string][2]string{
	store.EventRecordSealed:   {api.KindCreate, api.DecisionApprove},
	store.EventRecordRejected: {api.KindCreate, api.DecisionDeny},
	store.EventSessionOpened:  {api.KindAccess, api.DecisionApprove},
	store.EventSessionDenied:  {api.KindAccess, api.DecisionDeny},
}

func (m *metrics) auditEvent(event string) {
	m.auditEvents.WithLabelValues(event).Inc()
	if kd, ok := decisionOf[event]; ok {
		m.decisions.WithLabelValues(kd[0], kd[1]).Inc()
	}
}

// middleware counts and times every request by its route pattern (never
// the path, which holds ids) and the status it was answered with.
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		start := time.Now()
		var counted *countingWriter
		if c.Path() == routeSessionContent {
			orig := c.Response()
			counted = &countingWriter{ResponseWriter: orig}
			c.SetResponse(counted)
			defer c.SetResponse(orig)
		}
		err := next(c)
		status := http.StatusOK
		if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Status != 0 {
			status = r.Status
		}
		if err != nil {
			if r, _ := echo.UnwrapResponse(c.Response()); r == nil || !r.Committed {
				status = asAPIError(err).kind.Status
			}
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, c.Request().Method, strconv.Itoa(status)).Inc()
		m.latency.WithLabelValues(route, c.Request().Method).Observe(time.Since(start).Seconds())
		if counted != nil {
			m.bytesSent.Add(float64(counted.n))
		}
		return err
	}
}

// routeSessionContent is the route whose bytes count as delivered.
const routeSessionContent = "/v1/sessions/:sid/content"

// countingWriter counts the body bytes written through it.
type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController and echo.UnwrapResponse reach the
// writer below (flushes, deadlines).
func (w *countingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// meteredStore times and counts every store operation.
type meteredStore struct {
	store.Store
	m      *metrics
	staged sync.Map // record id -> int64 size, from StageRecord until sealed or ended
}

func (m *meteredStore) observe(op string, start time.Time, err error) {
	m.m.storeLatency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	m.m.storeOps.WithLabelValues(op, storeResult(err)).Inc()
}

func (m *meteredStore) run(op string, f func() error) error {
	start := time.Now()
	err := f()
	m.observe(op, start, err)
	return err
}

func meter[T any](m *meteredStore, op string, f func() (T, error)) (T, error) {
	start := time.Now()
	v, err := f()
	m.observe(op, start, err)
	return v, err
}

// storeResult names the outcome of a store call; only unavailable and
// error are failures of the store, the rest are answers.
func storeResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, store.ErrConflict):
		return "conflict"
	case errors.Is(err, store.ErrExpired):
		return "expired"
	case errors.Is(err, store.ErrInvalid):
		return "invalid"
	case errors.Is(err, store.ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

// meteredNotifier counts the outcome of each notification.
type meteredNotifier struct {
	push.Notifier
	kind string
	m    *metrics
}

func (n *meteredNotifier) Notify(ctx context.Context, userID, requestID string) error {
	err := n.Notifier.Notify(ctx, userID, requestID)
	result := "delivered"
	if err != nil {
		result = "failed"
	}
	n.m.pushes.WithLabelValues(n.kind, result).Inc()
	return err
}

// meterNotifiers wraps each notifier; its kind is its Go type (webhook, webpush).
func (m *metrics) meterNotifiers(ns []push.Notifier) []push.Notifier {
	out := make([]push.Notifier, len(ns))
	for i, n := range ns {
		kind := "other"
		switch n.(type) {
		case *push.Webhook:
			kind = "webhook"
		case *push.WebPush:
			kind = "webpush"
		}
		out[i] = &meteredNotifier{Notifier: n, kind: kind, m: m}
	}
	return out
}

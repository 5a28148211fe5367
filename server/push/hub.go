package push

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/assent-dev/assent/internal/ids"
)

// Defaults of HubOptions.
const (
	DefaultHeartbeat    = 15 * time.Second
	DefaultBuffer       = 16
	DefaultMaxPerUser   = 8
	DefaultMaxTotal     = 10000
	DefaultWriteTimeout = 10 * time.Second
)

// HubOptions tunes a Hub. A zero field selects its default; a negative one
// is an error.
type HubOptions struct {
	// Heartbeat is the interval of the ": keepalive" comment that keeps
	// proxies and NATs from closing an idle stream (DefaultHeartbeat).
	Heartbeat time.Duration
	// Buffer is how many notifications may wait for one stream before the
	// hub disconnects it as too slow (DefaultBuffer).
	Buffer int
	// MaxPerUser caps the open streams of one user (DefaultMaxPerUser).
	MaxPerUser int
	// MaxTotal caps the open streams of the hub (DefaultMaxTotal).
	MaxTotal int
	// WriteTimeout bounds each write to a stream, so that a client that
	// stopped reading cannot hold a stream open forever (DefaultWriteTimeout).
	// It replaces any http.Server WriteTimeout for the stream, which would
	// otherwise end every stream after that time.
	WriteTimeout time.Duration
}

// Hub fans request notifications out to the Server-Sent Event streams of
// connected devices (GET /v1/device/events). It implements Notifier.
//
// Notify never waits for a client: each stream has a bounded buffer, and a
// stream whose buffer is full is disconnected (ErrSlowSubscriber) rather
// than dropping the one notification. Disconnecting is safe because the
// device lists its pending requests whenever it reconnects, so it loses
// nothing; a silently dropped event would instead leave the device believing
// it was up to date until the next push.
//
// A Hub is safe for concurrent use.
type Hub struct {
	opts HubOptions

	mu     sync.Mutex
	closed bool
	users  map[string]map[*subscriber]struct{} // live streams by user id
	total  int
	drops  uint64
}

// subscriber is one open stream. Its fields after events and done are
// guarded by Hub.mu.
type subscriber struct {
	userID, deviceID string
	events           chan []byte // encoded payloads
	done             chan struct{}
	reason           error // why the hub ended it; written before done is closed
	ended            bool
}

// HubStats is a snapshot of a Hub's counters, for metrics.
type HubStats struct {
	Subscribers int    // open streams
	Dropped     uint64 // streams disconnected as too slow since NewHub
}

// NewHub returns a Hub with opts, or ErrConfig for a negative option.
func NewHub(opts HubOptions) (*Hub, error) {
	if opts.Heartbeat < 0 || opts.Buffer < 0 || opts.MaxPerUser < 0 || opts.MaxTotal < 0 || opts.WriteTimeout < 0 {
		return nil, fmt.Errorf("%w: negative hub option", ErrConfig)
	}
	opts.Heartbeat = orDefault(opts.Heartbeat, DefaultHeartbeat)
	opts.Buffer = orDefault(opts.Buffer, DefaultBuffer)
	opts.MaxPerUser = orDefault(opts.MaxPerUser, DefaultMaxPerUser)
	opts.MaxTotal = orDefault(opts.MaxTotal, DefaultMaxTotal)
	opts.WriteTimeout = orDefault(opts.WriteTimeout, DefaultWriteTimeout)
	return &Hub{opts: opts, users: make(map[string]map[*subscriber]struct{})}, nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Notify queues the event for every open stream of userID and returns
// without waiting for any of them. A user with no open stream is not an
// error: the device pulls its pending requests when it connects. Notify
// fails only for a malformed requestID (wrapping ids.ErrMalformed) or after
// Close (ErrClosed).
func (h *Hub) Notify(_ context.Context, userID, requestID string) error {
	data, err := encodePayload(requestID)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	for s := range h.users[userID] {
		select {
		case s.events <- data:
		default:
			h.drops++
			h.endLocked(s, ErrSlowSubscriber)
		}
	}
	return nil
}

// Serve streams the notifications of userID to one device until the client
// goes away, the hub ends the stream, or a write fails.
//
// Before anything is written Serve may fail with an error wrapping
// ids.ErrMalformed (bad userID or deviceID), ErrNoFlush, ErrClosed (503) or
// ErrTooManySubscribers (429); the caller then writes the error response.
// Every other return comes after the 200 response has started: nil when the
// client went away or Close ended the stream, ErrSlowSubscriber,
// ErrReplaced, ErrDeviceEnded, or a write error.
//
// A stream from a device that already has one replaces it (the older one
// ends with ErrReplaced): a device that reconnects after a network change
// must not be locked out by its own half-dead stream.
//
// The response carries Content-Type text/event-stream, Cache-Control
// no-store and X-Accel-Buffering no (so nginx does not hold events back);
// each event is flushed at once.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, userID, deviceID string) error {
	if err := ids.Check(ids.User, userID); err != nil {
		return fmt.Errorf("push: user id: %w", err)
	}
	if err := ids.Check(ids.Device, deviceID); err != nil {
		return fmt.Errorf("push: device id: %w", err)
	}
	if !canFlush(w) {
		return ErrNoFlush
	}
	s, err := h.subscribe(userID, deviceID)
	if err != nil {
		return err
	}
	defer h.end(s, nil)

	rc := http.NewResponseController(w)
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	if err := h.send(rc, func() error { w.WriteHeader(http.StatusOK); return nil }); err != nil {
		return err
	}

	heartbeat := time.NewTicker(h.opts.Heartbeat)
	defer heartbeat.Stop()
	ctx := r.Context()
	for {
		var frame []byte
		select {
		case <-ctx.Done():
			return nil
		case <-s.done:
			return s.reason
		case data := <-s.events:
			frame = eventFrame(data)
		case <-heartbeat.C:
			frame = keepaliveFrame
		}
		if err := h.send(rc, func() error { _, err := w.Write(frame); return err }); err != nil {
			return err
		}
	}
}

var keepaliveFrame = []byte(": keepalive\n\n")

func eventFrame(data []byte) []byte {
	frame := make([]byte, 0, len("event: \ndata: \n\n")+len(EventRequest)+len(data))
	frame = append(frame, "event: "+EventRequest+"\ndata: "...)
	frame = append(frame, data...)
	return append(frame, "\n\n"...)
}

// send runs write under a fresh write deadline and flushes.
func (h *Hub) send(rc *http.ResponseController, write func() error) error {
	// A writer without deadlines still works; only the bound is lost.
	if err := rc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("push: stream: %w", err)
	}
	if err := write(); err != nil {
		return fmt.Errorf("push: stream: %w", err)
	}
	if err := rc.Flush(); err != nil {
		return fmt.Errorf("push: stream: %w", err)
	}
	return nil
}

func (h *Hub) subscribe(userID, deviceID string) (*subscriber, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	for s := range h.users[userID] {
		if s.deviceID == deviceID {
			h.endLocked(s, ErrReplaced)
		}
	}
	if len(h.users[userID]) >= h.opts.MaxPerUser || h.total >= h.opts.MaxTotal {
		return nil, ErrTooManySubscribers
	}
	s := &subscriber{
		userID:   userID,
		deviceID: deviceID,
		events:   make(chan []byte, h.opts.Buffer),
		done:     make(chan struct{}),
	}
	if h.users[userID] == nil {
		h.users[userID] = make(map[*subscriber]struct{})
	}
	h.users[userID][s] = struct{}{}
	h.total++
	return s, nil
}

func (h *Hub) end(s *subscriber, reason error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.endLocked(s, reason)
}

// endLocked removes s from the fan-out and the caps at once, so that a stream
// the hub has given up on neither receives nor holds a slot while its
// goroutine finishes (at most WriteTimeout later).
func (h *Hub) endLocked(s *subscriber, reason error) {
	if s.ended {
		return
	}
	s.ended = true
	s.reason = reason
	close(s.done)
	delete(h.users[s.userID], s)
	if len(h.users[s.userID]) == 0 {
		delete(h.users, s.userID)
	}
	h.total--
}

// EndDevice ends the open streams of device deviceID of user userID, whose
// Serve returns ErrDeviceEnded: a device that was revoked or suspended must
// stop hearing of its user's requests at once, not when it reconnects (a
// new stream is refused by the server's authentication).
func (h *Hub) EndDevice(userID, deviceID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.users[userID] {
		if s.deviceID == deviceID {
			h.endLocked(s, ErrDeviceEnded)
		}
	}
}

// Close ends every stream (their Serve returns nil) and makes later Serve
// and Notify calls fail with ErrClosed. It does not wait for the handlers to
// return; http.Server.Shutdown does. Call Close before Shutdown, which would
// otherwise wait for streams that never end by themselves. Close is
// idempotent and always returns nil.
func (h *Hub) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, subs := range h.users {
		for s := range subs {
			h.endLocked(s, nil)
		}
	}
	return nil
}

// Stats returns the current counters.
func (h *Hub) Stats() HubStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return HubStats{Subscribers: h.total, Dropped: h.drops}
}

// ConnectedUsers returns the ids of the users with at least one open
// stream, each once, in no particular order (none after Close). A node
// uses it to look for requests that other nodes made for the users
// connected here.
func (h *Hub) ConnectedUsers() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	users := make([]string, 0, len(h.users))
	for u := range h.users {
		users = append(users, u)
	}
	return users
}

// ConnectedDevices returns the ids of the devices of user userID with an
// open stream, each once, in no particular order. A node uses it to end
// the streams of devices another node revoked or suspended.
func (h *Hub) ConnectedDevices(userID string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	seen := make(map[string]bool, len(h.users[userID]))
	var devices []string
	for s := range h.users[userID] {
		if !seen[s.deviceID] {
			seen[s.deviceID] = true
			devices = append(devices, s.deviceID)
		}
	}
	return devices
}

// canFlush reports whether the innermost writer under w's Unwrap chain can
// flush. Probing instead of calling Flush matters: some wrappers (Echo's
// Response) panic when the writer beneath them cannot flush.
func canFlush(w http.ResponseWriter) bool {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	switch w.(type) {
	case http.Flusher, interface{ FlushError() error }:
		return true
	}
	return false
}

var _ io.Closer = (*Hub)(nil)
var _ Notifier = (*Hub)(nil)

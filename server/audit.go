package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/store"
)

// actorServer is the actor of events the server causes itself (expiry).
const actorServer = "server"

// audit appends an event to the user's chain. The state change it records
// has already happened, so a failing store is logged, not returned: the
// caller's answer stays true.
func (s *Server) audit(ctx context.Context, userID, event, actor, subject string, details any) {
	e, err := s.auditEntry(userID, event, actor, subject, details)
	if err != nil {
		s.log.Error("audit details do not encode", "event", event, "error", err)
		return
	}
	// The event happened whether or not the caller is still there.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.store.AppendAudit(ctx, e); err != nil {
		s.log.Error("audit entry not written", "user_id", userID, "event", event, "subject", subject, "error", err)
	}
}

// auditEntry returns the entry of an event that happens now, for audit or
// for a combined store call that appends it with the state change.
func (s *Server) auditEntry(userID, event, actor, subject string, details any) (*store.AuditEntry, error) {
	var b []byte
	if details != nil {
		var err error
		if b, err = json.Marshal(details); err != nil {
			return nil, err
		}
	}
	return &store.AuditEntry{UserID: userID, Event: event, Actor: actor, Subject: subject, Details: b, At: s.now()}, nil
}

// auditLost logs a combined call's audit entry that could not be appended
// after its change (store.ErrAuditNotWritten), as audit logs a failed
// append, and reports whether err was that (and so the change is made).
func (s *Server) auditLost(err error, userID, subject string) bool {
	if !errors.Is(err, store.ErrAuditNotWritten) {
		return false
	}
	s.log.Error("audit entry not written", "user_id", userID, "subject", subject, "error", err)
	return true
}

// Details of audit events, as canonical JSON (fields in this order).
type (
	approvalDetails = api.AnswerDetails
	requestDetails  struct {
		RecordID  string `json:"record_id"`
		RequestID string `json:"request_id,omitempty"`
		SessionID string `json:"session_id,omitempty"`
	}
	deviceDetails struct {
		DeviceKeyID string `json:"device_key_id"`
		// Via is "recovery" for a device enrolled with the pinned key
		// while it was pinned (from a recovery kit), State the state it
		// entered (active or recovery_pending).
		Via   string `json:"via,omitempty"`
		State string `json:"state,omitempty"`
		// Platform is, in device_enrolled, the one the device enrolled
		// with (absent if it gave none).
		Platform string `json:"platform,omitempty"`
	}
	deliveryDetails struct {
		RecordID      string `json:"record_id"`
		DownloadsLeft int    `json:"downloads_left"`
	}
)

// Audit page sizes of ?limit=N.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// writeAudit answers with the user's chain after ?after=SEQ, at most
// ?limit=N entries.
func (s *Server) writeAudit(c *echo.Context, userID string) error {
	after, err := queryUint(c, "after", 0, 1<<62)
	if err != nil {
		return err
	}
	limit, err := queryUint(c, "limit", defaultAuditLimit, maxAuditLimit)
	if err != nil {
		return err
	}
	if limit == 0 {
		return fail(errBadRequest, "limit must be at least 1")
	}
	entries, err := s.store.AuditEntries(c.Request().Context(), userID, int64(after), int(limit))
	if err != nil {
		return storeFail(err, "audit chain")
	}
	out := api.AuditList{Entries: make([]api.AuditEntry, 0, len(entries))}
	for _, e := range entries {
		w := *e
		if w.Details == nil {
			w.Details = []byte{} // "" on the wire, never null
		}
		w.At = wire(e.At)
		out.Entries = append(out.Entries, api.AuditEntry(w))
	}
	return c.JSON(http.StatusOK, out)
}

// queryUint parses an optional unsigned query parameter, at most limit.
func queryUint(c *echo.Context, name string, def, limit uint64) (uint64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > limit {
		return 0, fail(errBadRequest, name+" must be a whole number up to "+strconv.FormatUint(limit, 10))
	}
	return n, nil
}

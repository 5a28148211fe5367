package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/server/push"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// inlineWait bounds how long an answer waits for the poller processing it.
const inlineWait = 5 * time.Second

// maxDeviceList caps GET /v1/device/requests; MaxPendingPerUser keeps the
// real number well under it.
const maxDeviceList = 100

// listDeviceRequests: GET /v1/device/requests?state=pending. The query must
// be exactly that (WIRE.md): a missing or other state, a repeated one or
// another parameter is 400, so that a client never takes the answer for
// something it did not ask.
func (s *Server) listDeviceRequests(c *echo.Context) error {
	q := c.QueryParams()
	if st := q["state"]; len(q) != 1 || len(st) != 1 || st[0] != store.RequestPending {
		return fail(errBadRequest, "the query must be state=pending: only pending requests can be listed")
	}
	dev := authDevice(c)
	reqs, err := s.store.PendingRequests(c.Request().Context(), dev.UserID, s.now(), maxDeviceList)
	if err != nil {
		return storeFail(err, "request")
	}
	devices, err := s.addedDevices(c.Request().Context(), reqs...)
	if err != nil {
		return err
	}
	out := api.DeviceRequestList{Requests: make([]api.DeviceRequest, 0, len(reqs))}
	for _, q := range reqs {
		// Requests are addressed to the user's key: a device of another
		// key (one enrolled before keys were pinned) never sees them.
		if q.DeviceKeyID == dev.KeyID {
			out.Requests = append(out.Requests, s.requestView(q, devices))
		}
	}
	return c.JSON(http.StatusOK, out)
}

// getDeviceRequest: GET /v1/device/requests/{id}.
func (s *Server) getDeviceRequest(c *echo.Context) error {
	q, err := s.deviceRequest(c)
	if err != nil {
		return err
	}
	devices, err := s.addedDevices(c.Request().Context(), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.requestView(q, devices))
}

// addedDevices loads the devices that the add_device requests among reqs
// ask to add, by id.
func (s *Server) addedDevices(ctx context.Context, reqs ...*store.Request) (map[string]*store.Device, error) {
	var out map[string]*store.Device
	for _, q := range reqs {
		if q.Kind != store.KindAddDevice {
			continue
		}
		d, err := s.store.GetDevice(ctx, q.DeviceID)
		if err != nil {
			return nil, storeFail(err, "device")
		}
		if out == nil {
			out = map[string]*store.Device{}
		}
		out[d.ID] = d
	}
	return out, nil
}

// deviceRequest loads the request of path parameter id; a request of
// another user is not found.
func (s *Server) deviceRequest(c *echo.Context) (*store.Request, error) {
	id, err := pathID(c, "id", ids.Request)
	if err != nil {
		return nil, err
	}
	q, err := s.store.GetRequest(c.Request().Context(), id)
	if err != nil {
		return nil, storeFail(err, "request")
	}
	// A request is addressed to the user's key: a device of another key
	// (one enrolled before keys were pinned) does not see it.
	if dev := authDevice(c); q.UserID != dev.UserID || q.DeviceKeyID != dev.KeyID {
		return nil, fail(errNotFound, "request not found")
	}
	return q, nil
}

// requestView shows a request; a pending one past its expiry shows as
// expired before the sweeper gets to it.
// devices holds, by id, the devices that the add_device requests among the
// requests shown name (see addedDevices).
func (s *Server) requestView(q *store.Request, devices map[string]*store.Device) api.DeviceRequest {
	state := q.State
	if state == store.RequestPending && !s.now().Before(q.ExpiresAt) {
		state = store.RequestExpired
	}
	blinded := q.BlindedElements
	if blinded == nil {
		blinded = [][]byte{}
	}
	var added *api.NewDevice
	if q.Kind == store.KindAddDevice {
		added = &api.NewDevice{DeviceID: q.DeviceID}
		if d, ok := devices[q.DeviceID]; ok {
			added.Name, added.SigningPublicKey = d.Name, d.SigningPublicKey
		}
	}
	return api.DeviceRequest{
		RequestID:   q.ID,
		Kind:        q.Kind,
		UserID:      q.UserID,
		RecordID:    q.RecordID,
		DeviceKeyID: q.DeviceKeyID,
		Requester:   api.Requester{ID: q.Requester.ID, Name: q.Requester.Name},
		Purpose:     q.Purpose,
		Record: api.RequestRecord{
			Title: q.Record.Title, ContentType: q.Record.ContentType,
			Size: q.Record.Size, ContentSHA256: q.Record.ContentSHA256,
		},
		BlindedElements: blinded,
		CreatedAt:       wire(q.CreatedAt),
		ExpiresAt:       wire(q.ExpiresAt),
		State:           state,
		NewDevice:       added,
	}
}

// answerRequest: POST /v1/device/requests/{id}/response. The server
// rebuilds the statement from its own copy of the request and the decision,
// and checks the signature (401) and, for an approval, the proof against
// the device's key and the record's info (400 bad_proof; the request stays
// pending). Then one conditional update records the answer (a second answer
// gets 409, a late one 410), and the node holding the request's secrets
// acts on it. On that node an approval's proof is verified once: the
// device's output is finalized before the update and used to process it.
func (s *Server) answerRequest(c *echo.Context) error {
	q, err := s.deviceRequest(c)
	if err != nil {
		return err
	}
	var in api.DeviceResponse
	if err := decodeJSONLimit(c, &in, maxTransferBody); err != nil {
		return err
	}
	dev := authDevice(c)
	if q.Kind == store.KindAddDevice {
		if in.Reason != "" {
			return fail(errBadRequest, "an add_device answer carries no reason")
		}
		return s.answerAddDevice(c, q, dev, &in)
	}
	if len(in.TransferKeyHash) > 0 || len(in.TransferBundle) > 0 {
		return fail(errBadRequest, "only an add_device answer carries a transfer")
	}
	now := s.now()
	switch {
	case q.State == store.RequestExpired || (q.State == store.RequestPending && !now.Before(q.ExpiresAt)):
		return fail(errExpired, "the request has expired")
	case q.State != store.RequestPending:
		return fail(errConflict, "the request is already answered")
	}
	if in.Decision != threshold.DecisionApprove && in.Decision != threshold.DecisionDeny {
		return fail(errBadRequest, `decision must be "approve" or "deny"`)
	}
	if err := checkReason(in.Decision, in.Reason); err != nil {
		return err
	}
	view := s.requestView(q, nil)
	stmt, err := threshold.ApprovalStatement(&view, in.Decision).Marshal()
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	if threshold.Verify(dev.SigningPublicKey, stmt, in.Signature) != nil {
		return errAuth
	}
	// p, when set, are q's secrets, claimed, and yD the device's output,
	// verified and finalized with them.
	var p *pendingSecrets
	var yD []byte
	if in.Decision == threshold.DecisionApprove {
		if p, yD, err = s.checkApproval(dev, q, in.EvaluatedElements, in.Proof); err != nil {
			return err
		}
		defer secret.Clear(yD)
	} else if len(in.EvaluatedElements) > 0 || len(in.Proof) > 0 {
		return fail(errBadRequest, "a deny carries no evaluated_elements or proof")
	}
	answer := store.Answer{
		Decision:          in.Decision,
		EvaluatedElements: in.EvaluatedElements,
		Proof:             in.Proof,
		Approval:          store.Approval{DeviceID: dev.ID, Statement: stmt, Signature: in.Signature},
		AnsweredAt:        now,
	}
	ctx := c.Request().Context()
	event, state := store.EventApproved, store.RequestApproved
	if in.Decision == threshold.DecisionDeny {
		event, state = store.EventDenied, store.RequestDenied
	}
	details := approvalDetails{DeviceID: dev.ID, Statement: stmt, Signature: in.Signature, Reason: in.Reason}
	if p != nil && (q.Kind == threshold.KindCreate || q.Kind == threshold.KindAccess) && q.OwnerNode == s.cfg.NodeID {
		combined := s.answerAndSeal
		if q.Kind == threshold.KindAccess {
			combined = s.answerAndOpen
		}
		done, err := combined(ctx, q, p, yD, answer, details, now)
		if err != nil {
			s.pending.unclaim(q.ID, p)
			return s.answerFail(ctx, q.ID, err)
		}
		if done {
			return c.JSON(http.StatusOK, api.DeviceResponseAnswer{RequestID: q.ID, State: state})
		}
		// Stored but not sealed: processed below, the usual way.
		q.State, q.Answer = state, &answer
		if err := s.processClaimed(ctx, q, p, yD); err != nil {
			requestLogger(c, s.log).Warn("processing the answer failed; will retry", "request_id", q.ID, "error", err)
		}
		return c.JSON(http.StatusOK, api.DeviceResponseAnswer{RequestID: q.ID, State: state})
	}
	err = s.store.AnswerRequest(ctx, q.ID, answer, now)
	if err != nil && p != nil {
		s.pending.unclaim(q.ID, p)
	}
	if err != nil {
		return s.answerFail(ctx, q.ID, err)
	}
	s.audit(ctx, q.UserID, event, dev.ID, q.ID, details)
	q.State, q.Answer = state, &answer
	if q.OwnerNode == s.cfg.NodeID {
		// The poller retries whatever fails here.
		if p != nil {
			err = s.processClaimed(ctx, q, p, yD)
		} else {
			err = s.process(ctx, q)
		}
		if err != nil {
			requestLogger(c, s.log).Warn("processing the answer failed; will retry", "request_id", q.ID, "error", err)
		}
		// If the poller got to the answer first, let it finish, so that in
		// the usual case the outcome is in place when the device hears back.
		s.pending.wait(ctx, q.ID, inlineWait)
	}
	return c.JSON(http.StatusOK, api.DeviceResponseAnswer{RequestID: q.ID, State: state})
}

// checkReason checks the reason of a device's answer: none, or on a deny
// one of api's reasons.
func checkReason(decision, reason string) error {
	switch {
	case reason == "":
		return nil
	case decision != threshold.DecisionDeny:
		return fail(errBadRequest, "only a deny carries a reason")
	case reason != api.ReasonMatchFailed:
		return fail(errBadRequest, `reason must be "`+api.ReasonMatchFailed+`"`)
	}
	return nil
}

// answerFail is the answer to a device whose answer could not be stored.
// A request that left pending while its answer was being checked was either
// answered by another device or expired by the sweeper; the device is told
// which.
func (s *Server) answerFail(ctx context.Context, requestID string, err error) error {
	if errors.Is(err, store.ErrExpired) {
		return fail(errExpired, "the request has expired")
	}
	if errors.Is(err, store.ErrConflict) {
		if q, gerr := s.store.GetRequest(ctx, requestID); gerr == nil && q.State == store.RequestExpired {
			return fail(errExpired, "the request has expired")
		}
		return fail(errConflict, "the request is already answered")
	}
	return storeFail(err, "request")
}

// answerAndSeal is the path of an approved create whose secrets p this
// node holds: the record's key is wrapped and its blob committed first, so
// that the answer, the seal, the processed mark and both audit entries are
// one store call (store.AnswerAndSeal). done reports the record sealed
// and q's secrets dropped; false with a nil error means the answer is
// stored but the record was not sealed (or the key could not be wrapped
// here): the caller processes it the usual way, still holding p. An error
// means the answer was not stored.
func (s *Server) answerAndSeal(ctx context.Context, q *store.Request, p *pendingSecrets, yD []byte,
	answer store.Answer, details approvalDetails, now time.Time) (done bool, err error) {
	wrapped, err := s.wrapRecordKey(ctx, q, p, yD)
	if err == nil {
		err = s.commitContent(ctx, q, p)
	}
	if err != nil {
		return false, s.answerOnly(ctx, q, answer, details, now)
	}
	answered, err := s.auditEntry(q.UserID, store.EventApproved, details.DeviceID, q.ID, details)
	if err != nil {
		return false, err
	}
	sealedAt := s.now()
	sealed, err := s.auditEntry(q.UserID, store.EventRecordSealed, actorServer, q.RecordID, requestDetails{RecordID: q.RecordID, RequestID: q.ID})
	if err != nil {
		return false, err
	}
	ok, err := s.store.AnswerAndSeal(ctx, &store.SealingAnswer{
		RequestID: q.ID, Answer: answer, AnswerAudit: answered,
		RecordID: q.RecordID, Seal: store.Seal{WrappedDEK: wrapped, Approval: keptApproval(&answer), SealedAt: sealedAt}, SealAudit: sealed,
	}, now)
	if err != nil && !s.auditLost(err, q.UserID, q.ID) {
		return false, err
	}
	if !ok {
		return false, nil
	}
	s.pending.finish(q.ID, p)
	s.changes.changed(q.RecordID)
	return true, nil
}

// answerOnly stores an approval whose use failed before its combined
// call: the usual path meets the same failure and ends the record or
// session, or (a store failure) retries.
func (s *Server) answerOnly(ctx context.Context, q *store.Request, answer store.Answer, details approvalDetails, now time.Time) error {
	if err := s.store.AnswerRequest(ctx, q.ID, answer, now); err != nil {
		return err
	}
	s.audit(ctx, q.UserID, store.EventApproved, details.DeviceID, q.ID, details)
	return nil
}

// answerAndOpen is answerAndSeal for an approved access: the record's key
// is unwrapped and held for the session first, so that the answer, the
// opening, the processed mark and both audit entries are one store call
// (store.AnswerAndOpen). done, false and errors mean what they mean for
// answerAndSeal.
func (s *Server) answerAndOpen(ctx context.Context, q *store.Request, p *pendingSecrets, yD []byte,
	answer store.Answer, details approvalDetails, now time.Time) (done bool, err error) {
	// The audit entries are built before the key is unwrapped, so that no
	// failure between the two leaves the key uncleared.
	answered, err := s.auditEntry(q.UserID, store.EventApproved, details.DeviceID, q.ID, details)
	if err != nil {
		return false, err
	}
	opened, err := s.auditEntry(q.UserID, store.EventSessionOpened, actorServer, q.SessionID,
		requestDetails{RecordID: q.RecordID, RequestID: q.ID, SessionID: q.SessionID})
	if err != nil {
		return false, err
	}
	rec, err := s.store.GetRecord(ctx, q.RecordID)
	var dek []byte
	if err == nil {
		dek, err = s.unwrapRecordKey(ctx, q, p, rec, yD)
	}
	if err != nil {
		return false, s.answerOnly(ctx, q, answer, details, now)
	}
	openedAt := s.now()
	expires := openedAt.Add(s.cfg.SessionTTL)
	// The key is in place before the session opens, so that a download
	// finds it.
	s.keys.put(q.SessionID, dek, expires)
	ok, err := s.store.AnswerAndOpen(ctx, &store.OpeningAnswer{
		RequestID: q.ID, Answer: answer, AnswerAudit: answered, SessionID: q.SessionID, OpenAudit: opened,
		Opening: store.SessionOpening{ExpiresAt: expires, Downloads: s.cfg.DownloadsPerSession, Approval: keptApproval(&answer), OpenedAt: openedAt},
	}, now)
	if err != nil && !s.auditLost(err, q.UserID, q.ID) {
		s.keys.retire(q.SessionID)
		return false, err
	}
	if !ok {
		s.keys.retire(q.SessionID)
		return false, nil
	}
	s.pending.finish(q.ID, p)
	s.changes.changed(q.SessionID)
	return true, nil
}

// deviceEvents: GET /v1/device/events, Server-Sent Events of the device's
// user's requests.
func (s *Server) deviceEvents(c *echo.Context) error {
	dev := authDevice(c)
	err := s.hub.Serve(c.Response(), c.Request(), dev.UserID, dev.ID)
	if r, _ := echo.UnwrapResponse(c.Response()); r != nil && r.Committed {
		if err != nil {
			requestLogger(c, s.log).Debug("event stream ended", "error", err)
		}
		return nil
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, push.ErrClosed):
		return failCause(errUnavailable, "the server is shutting down", err)
	case errors.Is(err, push.ErrTooManySubscribers):
		return &apiError{kind: errRateLimited, msg: "too many event streams are open", cause: err, retryAfter: 30 * time.Second}
	}
	return failCause(errInternal, msgInternal, err)
}

// deviceAudit: GET /v1/device/audit, the chain of the device's user.
func (s *Server) deviceAudit(c *echo.Context) error {
	return s.writeAudit(c, authDevice(c).UserID)
}

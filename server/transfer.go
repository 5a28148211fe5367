package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// Adding a device by transfer (DESIGN.md, "Adding a device (transfer)"):
// the new device enrolls with transfer:true and waits, awaiting_transfer;
// an add_device request goes to the user's active devices; the device that
// approves it signs the add_device statement and posts an HPKE bundle
// sealed to the new device's transfer key, which the server never sees;
// the new device fetches the bundle once (GET /v1/device/transfer) and
// confirms as in enrollment step 3. The server keeps only ciphertext, and
// deletes it once fetched or expired.

// maxTransferBody caps the body of a device's answer, which for an
// add_device approval carries the bundle (store.MaxTransferLen bytes, in
// base64).
const maxTransferBody = store.MaxTransferLen/3*4 + maxJSONBody

// transferSource returns the pinned pkD of user userID, from whose active
// devices a new device can take kD, before the enrollment code is spent:
// 409 if the user has no active device holding the pinned key.
func (s *Server) transferSource(ctx context.Context, userID string) ([]byte, error) {
	u, err := s.store.GetUser(ctx, userID)
	if err != nil {
		return nil, storeFail(err, "user")
	}
	pkD, err := s.pinnedKey(ctx, u)
	if err != nil {
		return nil, err
	}
	if pkD == nil {
		return nil, fail(errConflict, "the user has no device to transfer from; enroll without transfer")
	}
	if _, err := s.deviceFor(ctx, userID, threshold.DeviceKeyID(pkD)); err != nil {
		return nil, err
	}
	return pkD, nil
}

// askAddDevice asks the user's active devices to approve device d (stored,
// awaiting transfer) with an add_device request, and answers the enrollment
// 202. The request expires with the enrollment: the device must confirm
// within EnrollmentTTL of its creation.
func (s *Server) askAddDevice(c *echo.Context, d *store.Device) error {
	ctx := context.WithoutCancel(c.Request().Context())
	u, err := s.store.GetUser(ctx, d.UserID)
	if err != nil {
		return storeFail(err, "user")
	}
	id, err := ids.New(ids.Request, s.rand)
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	now := s.now()
	q := &store.Request{
		ID: id, Kind: store.KindAddDevice, UserID: d.UserID, DeviceID: d.ID, DeviceKeyID: d.KeyID,
		Requester: store.Requester{ID: u.ClientID}, State: store.RequestPending,
		CreatedAt: now, ExpiresAt: transferDeadline(d, now.Add(s.cfg.ApprovalTTL)), OwnerNode: s.cfg.NodeID,
	}
	if err := s.store.CreateRequest(ctx, q); err != nil {
		requestLogger(c, s.log).Error("transfer enrollment stored but its add_device request could not be", "device_id", d.ID, "error", err)
		return failCause(errUnavailable, "the device could not be registered and the enrollment code is spent; ask for a new enrollment code", err)
	}
	s.audit(ctx, d.UserID, store.EventDeviceEnrolled, d.ID, d.ID, deviceDetails{DeviceKeyID: d.KeyID, Via: viaTransfer, State: d.State, Platform: d.Platform})
	s.audit(ctx, d.UserID, store.EventApprovalRequested, actorServer, q.ID, requestDetails{RequestID: q.ID})
	s.notify(d.UserID, q.ID)
	return c.JSON(http.StatusAccepted, api.EnrollAnswer{DeviceID: d.ID, UserID: d.UserID, State: d.State, BlindedElements: d.CheckBlinded})
}

// transferDeadline is the earlier of at and the end of d's enrollment: past
// it the device can no longer confirm, so neither its request nor its bundle
// is of any use.
func transferDeadline(d *store.Device, at time.Time) time.Time {
	if end := d.CreatedAt.Add(EnrollmentTTL); end.Before(at) {
		return end
	}
	return at
}

// answerAddDevice is POST /v1/device/requests/{id}/response for an
// add_device request q, by dev, an active device of the user holding the
// user's key. The server rebuilds the add_device statement from its own
// copy of the request and the new device, with the transfer key hash the
// answer names (the server cannot know it), and checks the signature
// (401). The new device's state is the arbiter of racing answers (409 for
// the loser): an approval stores the bundle and moves the device to pending
// in one call, a denial cancels the device for good; only then is the
// request answered.
func (s *Server) answerAddDevice(c *echo.Context, q *store.Request, dev *store.Device, in *api.DeviceResponse) error {
	now := s.now()
	switch {
	case q.State == store.RequestExpired || (q.State == store.RequestPending && !now.Before(q.ExpiresAt)):
		return fail(errExpired, "the request has expired")
	case q.State != store.RequestPending:
		return fail(errConflict, "the request is already answered")
	case in.Decision != threshold.DecisionApprove && in.Decision != threshold.DecisionDeny:
		return fail(errBadRequest, `decision must be "approve" or "deny"`)
	case len(in.EvaluatedElements) > 0 || len(in.Proof) > 0:
		return fail(errBadRequest, "an add_device answer carries no evaluated_elements or proof")
	case len(in.TransferKeyHash) != sha256.Size:
		return fail(errBadRequest, "transfer_key_hash must be 32 bytes")
	case in.Decision == threshold.DecisionApprove && (len(in.TransferBundle) == 0 || len(in.TransferBundle) > store.MaxTransferLen):
		return fail(errBadRequest, "an approval carries a transfer_bundle of 1 to "+strconv.Itoa(store.MaxTransferLen)+" bytes")
	case in.Decision == threshold.DecisionDeny && len(in.TransferBundle) > 0:
		return fail(errBadRequest, "a deny carries no transfer_bundle")
	}
	ctx := c.Request().Context()
	added, err := s.store.GetDevice(ctx, q.DeviceID)
	if err != nil {
		return storeFail(err, "device")
	}
	st := threshold.AddDeviceStatement{
		RequestID: q.ID, UserID: q.UserID, NewDeviceID: added.ID, SigningPublicKey: added.SigningPublicKey,
		TransferKeyHash: in.TransferKeyHash, SenderDeviceID: dev.ID, DeviceKeyID: q.DeviceKeyID,
		Decision: in.Decision, ExpiresAt: q.ExpiresAt,
	}
	stmt, err := st.Marshal()
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	if threshold.Verify(dev.SigningPublicKey, stmt, in.Signature) != nil {
		return errAuth
	}
	if in.Decision == threshold.DecisionApprove {
		t := &store.Transfer{
			DeviceID: added.ID, UserID: q.UserID, RequestID: q.ID, SenderID: dev.ID,
			Bundle: in.TransferBundle, Statement: stmt, Signature: in.Signature,
			ExpiresAt: transferDeadline(added, now.Add(EnrollmentTTL)),
		}
		err := s.store.ApproveTransfer(ctx, t, now)
		if errors.Is(err, store.ErrConflict) {
			return fail(errConflict, "the device is no longer awaiting a transfer (another device answered)")
		}
		if err != nil {
			return storeFail(err, "transfer")
		}
	} else {
		// A deny goes through the device's state too, so that of an
		// approval and a denial racing exactly one decides.
		err := s.store.SetDeviceState(ctx, added.ID, store.DeviceAwaitingTransfer, store.DeviceCancelled, now)
		if errors.Is(err, store.ErrConflict) {
			return fail(errConflict, "the device is no longer awaiting a transfer (another device answered)")
		}
		if err != nil {
			return storeFail(err, "device")
		}
		s.audit(ctx, q.UserID, store.EventDeviceCancelled, dev.ID, added.ID, deviceDetails{DeviceKeyID: added.KeyID, State: store.DeviceCancelled})
	}
	answer := store.Answer{
		Decision:   in.Decision,
		Approval:   store.Approval{DeviceID: dev.ID, Statement: stmt, Signature: in.Signature},
		AnsweredAt: now,
	}
	if err := s.store.AnswerRequest(ctx, q.ID, answer, now); err != nil {
		return s.answerFail(ctx, q.ID, err)
	}
	event, state := store.EventApproved, store.RequestApproved
	if in.Decision == threshold.DecisionDeny {
		event, state = store.EventDenied, store.RequestDenied
	}
	s.audit(ctx, q.UserID, event, dev.ID, q.ID, approvalDetails{DeviceID: dev.ID, Statement: stmt, Signature: in.Signature})
	q.State, q.Answer = state, &answer
	// The poller of the request's node retries what fails here.
	if err := s.actAddDevice(ctx, q); err == nil {
		if err := s.store.MarkProcessed(ctx, q.ID); err != nil && !errors.Is(err, store.ErrConflict) {
			requestLogger(c, s.log).Warn("marking the add_device answer processed failed; will retry", "request_id", q.ID, "error", err)
		}
	}
	return c.JSON(http.StatusOK, api.DeviceResponseAnswer{RequestID: q.ID, State: state})
}

// actAddDevice applies an answered add_device request: a denial cancels
// the new device (an approval moved it already, with its bundle).
func (s *Server) actAddDevice(ctx context.Context, q *store.Request) error {
	if q.Answer.Decision == threshold.DecisionDeny {
		return s.cancelTransfer(ctx, q)
	}
	return nil
}

// cancelTransfer cancels the device of add_device request q if it is still
// awaiting the transfer: denied or expired, it can never become active.
func (s *Server) cancelTransfer(ctx context.Context, q *store.Request) error {
	err := s.store.SetDeviceState(ctx, q.DeviceID, store.DeviceAwaitingTransfer, store.DeviceCancelled, s.now())
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	s.audit(ctx, q.UserID, store.EventDeviceCancelled, actorServer, q.DeviceID, deviceDetails{DeviceKeyID: q.DeviceKeyID, State: store.DeviceCancelled})
	return nil
}

// getTransfer: GET /v1/device/transfer, signed by the new device with its
// own key while it awaits the transfer. It hands the bundle out once and
// deletes it: 409 transfer_pending before an approval, 403
// transfer_denied after a denial or expiry, 410 once fetched or expired.
func (s *Server) getTransfer(c *echo.Context) error {
	dev := authDevice(c)
	switch dev.State {
	case store.DeviceAwaitingTransfer:
		return fail(errTransferPending, "no existing device has approved the transfer yet; ask again later")
	case store.DeviceCancelled:
		return fail(errTransferDenied, "the transfer was denied or expired; this device can never become active")
	}
	t, err := s.store.TakeTransfer(c.Request().Context(), dev.ID, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return fail(errGone, "the transfer bundle was fetched already, or deleted")
	case errors.Is(err, store.ErrExpired):
		return fail(errExpired, "the transfer bundle has expired")
	case err != nil:
		return storeFail(err, "transfer")
	}
	return c.JSON(http.StatusOK, api.Transfer{
		DeviceID: t.DeviceID, UserID: t.UserID, RequestID: t.RequestID, SenderDeviceID: t.SenderID,
		Statement: t.Statement, Signature: t.Signature, Bundle: t.Bundle, ExpiresAt: wire(t.ExpiresAt),
	})
}

// transferStates are the states in which a device may call
// GET /v1/device/transfer: awaiting it, pending once approved (to fetch
// the bundle), cancelled (to learn that it was denied).
func transferStates(state string) bool {
	return state == store.DeviceAwaitingTransfer || state == store.DevicePending || state == store.DeviceCancelled
}

// reactivateDevice: POST /v1/device/devices/{device_id}/reactivate, by an
// active device of the user holding the user's key: a suspended device
// becomes active again. The body is the reactivation statement's time
// (within MaxClockSkew of now) and its signature by the calling device
// (401 if it does not verify). DESIGN.md says only that a device's signed
// statement reactivates; the statement's layout is ours
// (threshold.ReactivateStatement).
func (s *Server) reactivateDevice(c *echo.Context) error {
	ch, err := s.signedChange(c, "reactivation", threshold.ReactivateStatement)
	if err != nil {
		return err
	}
	ctx, d := c.Request().Context(), ch.target
	if err := s.moveDevice(ctx, d, store.DeviceSuspended, store.DeviceActive); err != nil {
		return err
	}
	s.audit(ctx, d.UserID, store.EventDeviceReactivated, ch.caller.ID, d.ID,
		approvalDetails{DeviceID: ch.caller.ID, Statement: ch.statement, Signature: ch.body.Signature})
	return c.JSON(http.StatusOK, api.DeviceState{DeviceID: d.ID, UserID: d.UserID, State: store.DeviceActive})
}

package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/envelope"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// processingGrace is how long past a request's expiry its record or session
// still accepts the outcome of an answer that came in time, so that an
// answer in the request's last second is not lost to processing delay.
const processingGrace = 30 * time.Second

// createRecord: POST /v1/users/{uid}/records.
func (s *Server) createRecord(c *echo.Context) error {
	uid, err := pathID(c, "uid", ids.User)
	if err != nil {
		return err
	}
	var in api.CreateRecordRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := checkText("title", in.Title, true); err != nil {
		return err
	}
	if err := checkText("purpose", in.Purpose, false); err != nil {
		return err
	}
	if err := checkText("content_type", in.ContentType, true); err != nil {
		return err
	}
	if _, _, err := mime.ParseMediaType(in.ContentType); err != nil {
		return fail(errBadRequest, "content_type is not a media type")
	}
	cl := authClient(c)
	if ok, wait := s.creates.allow(cl.ID, s.clock()); !ok {
		return &apiError{kind: errRateLimited, msg: "too many records created; slow down: past create-rate, create-burst", retryAfter: wait}
	}
	ctx := c.Request().Context()
	if _, err := s.store.GetUser(ctx, uid); err != nil {
		return storeFail(err, "user")
	}
	now := s.now()
	rid, err := ids.NewRecord(s.rand, s.clock())
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	rec := &store.Record{
		ID:          rid,
		UserID:      uid,
		ClientID:    cl.ID,
		Title:       in.Title,
		ContentType: in.ContentType,
		Purpose:     in.Purpose,
		State:       store.RecordAwaitingUpload,
		CreatedAt:   now,
	}
	entry, err := s.auditEntry(uid, store.EventRecordCreated, cl.ID, rid, nil)
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	if err := s.store.CreateRecordAudited(ctx, rec, entry); err != nil && !s.auditLost(err, uid, rid) {
		return storeFail(err, "record")
	}
	return c.JSON(http.StatusCreated, api.CreatedRecord{RecordID: rid, State: rec.State})
}

// uploadContent: PUT /v1/records/{rid}/content. The body streams through
// the content encryption into a staged blob, or, for a record whose
// ciphertext fits store.MaxInlineContent, into memory and then the store
// with the staging; nothing larger is buffered and the plaintext never
// reaches disk. Past MaxUploadSize the upload is cut
// off (413), its staged blob deleted, and the record stays awaiting upload
// so the client may retry. Then the record waits for the device: its data
// key and blinds stay in this node's memory.
func (s *Server) uploadContent(c *echo.Context) error {
	rec, err := s.uploadTarget(c)
	if err != nil {
		return err
	}
	rid, ctx, cl := rec.ID, c.Request().Context(), authClient(c)
	if !s.uploads.tryLock(rid) {
		return fail(errConflict, "an upload of this record is in progress")
	}
	defer s.uploads.unlock(rid)
	dev, err := s.deviceFor(ctx, rec.UserID, "")
	if err != nil {
		return err
	}
	if err := s.admit(ctx, rec.UserID, cl.ID); err != nil {
		return err
	}

	up, err := s.receive(c, rid)
	if err != nil {
		return err
	}
	// From here the secrets live in p, and every failure clears them and
	// deletes the blob.
	p := &pendingSecrets{kind: threshold.KindCreate, userID: rec.UserID, recordID: rid, dek: up.dek, inline: up.content != nil}
	abandon := func(err error) error {
		p.destroy()
		s.dropBlob(ctx, up, rid)
		return err
	}
	p.input = make([]byte, 32)
	if _, err := io.ReadFull(s.rand, p.input); err != nil {
		return abandon(failCause(errInternal, msgInternal, err))
	}
	if p.blinding, err = oprf.Blind(s.rand, [][]byte{p.input}); err != nil {
		return abandon(failCause(errInternal, msgInternal, err))
	}
	reqID, err := ids.New(ids.Request, s.rand)
	if err != nil {
		return abandon(failCause(errInternal, msgInternal, err))
	}
	now := s.now()
	expires := now.Add(s.cfg.ApprovalTTL)
	p.expires = expires.Add(processingGrace)
	rec.Size, rec.ContentSHA256 = up.size, up.sum
	q := s.newRequest(reqID, threshold.KindCreate, rec, dev, cl, rec.Purpose, p.blinding.Elements(), now, expires)
	match, err := threshold.MatchCode(q.ID, q.BlindedElements)
	if err != nil {
		return abandon(failCause(errInternal, msgInternal, err))
	}
	entry, err := s.auditEntry(rec.UserID, store.EventApprovalRequested, cl.ID, reqID, requestDetails{RecordID: rid, RequestID: reqID})
	if err != nil {
		return abandon(failCause(errInternal, msgInternal, err))
	}
	// Staging the record, storing its request and auditing the request are
	// one store call. The secrets are in place before the request exists,
	// so that any answer to it finds them.
	s.pending.put(reqID, p)
	st := up.staging(rid)
	st.Input, st.DeviceKeyID, st.RequestID, st.ExpiresAt = bytes.Clone(p.input), dev.KeyID, reqID, p.expires
	err = s.store.StageAndAsk(ctx, rid, st, q, entry)
	if err != nil && !s.auditLost(err, rec.UserID, reqID) {
		s.pending.drop(reqID)
		s.dropBlob(ctx, up, rid)
		return storeFail(err, "record")
	}
	s.changes.changed(rid)
	s.notify(rec.UserID, reqID)
	return c.JSON(http.StatusAccepted, api.Pending{
		RecordID: rid, State: store.RecordPendingApproval, RequestID: reqID, ExpiresAt: expires, MatchCode: match,
	})
}

// uploadTarget returns the record of an upload's path, once the caller may
// upload its content.
func (s *Server) uploadTarget(c *echo.Context) (*store.Record, error) {
	rid, err := pathRecordID(c, "rid")
	if err != nil {
		return nil, err
	}
	rec, err := s.store.GetRecord(c.Request().Context(), rid)
	if err != nil {
		return nil, storeFail(err, "record")
	}
	if rec.ClientID != authClient(c).ID {
		return nil, fail(errForbidden, "only the client that created the record may upload its content")
	}
	switch rec.State {
	case store.RecordAwaitingUpload:
	case store.RecordExpired, store.RecordRejected:
		return nil, fail(errConflict, "record is "+rec.State+" and cannot be used again (a restart of the server, or the device's silence, ends a record waiting for approval): create a new record and upload to it")
	default:
		return nil, fail(errConflict, "record is "+rec.State+"; its content is uploaded only once")
	}
	if c.Request().ContentLength > s.cfg.MaxUploadSize {
		return nil, fail(errTooLarge, "content over the upload cap of "+strconv.FormatInt(s.cfg.MaxUploadSize, 10)+" bytes")
	}
	return rec, nil
}

// newRequest returns a pending request of this node to dev, the device of
// rec's user, from requester cl.
func (s *Server) newRequest(id, kind string, rec *store.Record, dev *store.Device, cl *store.Client, purpose string,
	blinded [][]byte, now, expires time.Time) *store.Request {
	return &store.Request{
		ID:          id,
		Kind:        kind,
		UserID:      rec.UserID,
		RecordID:    rec.ID,
		DeviceKeyID: dev.KeyID,
		Requester:   store.Requester{ID: cl.ID, Name: cl.Name},
		Purpose:     purpose,
		Record: store.RequestRecord{
			Title: rec.Title, ContentType: rec.ContentType, Size: rec.Size, ContentSHA256: rec.ContentSHA256,
		},
		BlindedElements: blinded,
		State:           store.RequestPending,
		CreatedAt:       now,
		ExpiresAt:       expires,
		OwnerNode:       s.cfg.NodeID,
	}
}

// upload is a received record content: its data key, size and digest,
// and its ciphertext when small enough for the store to keep (nil when it
// is in a staged blob).
type upload struct {
	dek     []byte
	size    int64
	sum     []byte
	content []byte
}

// staging is the store.Staging of a received upload: its ciphertext kept
// by the store, or in the staged blob named after record rid.
func (up *upload) staging(rid string) store.Staging {
	st := store.Staging{Size: up.size, ContentSHA256: up.sum, Content: up.content}
	if up.content == nil {
		st.BlobName = rid
	}
	return st
}

// dropBlob deletes the staged blob of a failed upload of record rid, if it
// made one: an upload kept in memory has none, and a blob under that name
// may be another upload's.
func (s *Server) dropBlob(ctx context.Context, up *upload, rid string) {
	if up.content == nil {
		s.deleteBlob(ctx, rid)
	}
}

// bodyError marks a failure to read the request body (the client's side).
type bodyError struct{ err error }

func (e bodyError) Error() string { return e.err.Error() }
func (e bodyError) Unwrap() error { return e.err }

// bodyReader reads an upload under a minimum rate: each window of
// Config.UploadWindow must bring Config.UploadMinBytes (the connection's
// read deadline is the window's end, and a window starts once the last one
// brought its share). Its errors are marked as the client's. An upload has
// no overall read timeout (the first read replaces Config.ReadTimeout's
// deadline), so that large uploads on slow links work, but one that
// trickles is cut off.
type bodyReader struct {
	r        io.Reader
	rc       *http.ResponseController
	minBytes int64
	window   time.Duration
	got      int64     // bytes read in the current window
	until    time.Time // the current window's end
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.until.IsZero() || b.got >= b.minBytes {
		b.got, b.until = 0, time.Now().Add(b.window)
		// A writer that cannot set deadlines (a test recorder) just goes
		// without.
		_ = b.rc.SetReadDeadline(b.until)
	}
	n, err := b.r.Read(p)
	b.got += int64(n)
	if err != nil && err != io.EOF {
		err = bodyError{err}
	}
	return n, err
}

// receive streams the request body, encrypted under a fresh data key,
// into memory for a small record (upload.content, for the store) or into
// the staged blob of record rid. On failure nothing is left: the blob is
// aborted and the key cleared.
func (s *Server) receive(c *echo.Context, rid string) (*upload, error) {
	ctx := c.Request().Context()
	dek := make([]byte, threshold.KeySize)
	if _, err := io.ReadFull(s.rand, dek); err != nil {
		return nil, failCause(errInternal, msgInternal, err)
	}
	sink, err := s.newContentSink(ctx, rid, c.Request().ContentLength)
	if err != nil {
		secret.Clear(dek)
		return nil, err
	}
	up, err := s.encryptBody(c, sink, dek)
	if err != nil {
		secret.Clear(dek)
		sink.abort()
		return nil, err
	}
	up.content = sink.content()
	return up, nil
}

// staleUpload is how long a staged blob of a record awaiting upload must
// have been left untouched before a new upload of the record replaces it:
// an upload that died with an earlier process, not one running on another
// node.
const staleUpload = time.Minute

// stage opens the staged blob of record rid, replacing a stale one.
func (s *Server) stage(ctx context.Context, rid string) (store.StagedBlob, error) {
	blob, err := s.blobs.Stage(ctx, rid)
	if errors.Is(err, store.ErrConflict) {
		stale, lerr := s.blobs.StagedBefore(ctx, s.clock().Add(-staleUpload))
		if lerr != nil {
			return nil, storeFail(lerr, "blob")
		}
		if !slices.Contains(stale, rid) {
			return nil, fail(errConflict, "an upload of this record is in progress")
		}
		if derr := s.blobs.Delete(ctx, rid); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			return nil, storeFail(derr, "blob")
		}
		blob, err = s.blobs.Stage(ctx, rid)
	}
	if err != nil {
		return nil, storeFail(err, "blob")
	}
	return blob, nil
}

func (s *Server) encryptBody(c *echo.Context, sink *contentSink, dek []byte) (*upload, error) {
	w, err := envelope.NewWriter(sink, dek, s.rand)
	if err != nil {
		return nil, writeFail(err)
	}
	body := &bodyReader{
		r:        http.MaxBytesReader(c.Response(), c.Request().Body, s.cfg.MaxUploadSize),
		rc:       http.NewResponseController(c.Response()),
		minBytes: s.cfg.UploadMinBytes,
		window:   s.cfg.UploadWindow,
	}
	if _, err := io.Copy(w, body); err != nil {
		var mbe *http.MaxBytesError
		var be bodyError
		switch {
		case errors.As(err, &mbe):
			return nil, fail(errTooLarge, "content over the upload cap of "+strconv.FormatInt(s.cfg.MaxUploadSize, 10)+" bytes")
		case errors.As(err, &be) && errors.Is(err, os.ErrDeadlineExceeded):
			return nil, failCause(errBadRequest, "the upload was too slow: under upload-min-bytes per upload-window", err)
		case errors.As(err, &be):
			return nil, failCause(errBadRequest, "the upload was interrupted", err)
		}
		return nil, sinkFail(err)
	}
	if err := w.Close(); err != nil {
		return nil, sinkFail(err)
	}
	if err := sink.Close(); err != nil {
		return nil, writeFail(err)
	}
	return &upload{dek: dek, size: w.Size(), sum: w.Sum()}, nil
}

// writeFail classifies a failure to write a blob.
func writeFail(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return failCause(errUnavailable, "the blob store is unavailable; try again later", err)
	}
	return failCause(errInternal, msgInternal, err)
}

// deleteBlob removes a blob, logging a failure (the sweeper retries staged
// blobs of records that are rejected or expired).
func (s *Server) deleteBlob(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.blobs.Delete(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("deleting a blob failed", "record_id", name, "error", err)
	}
}

// deviceFor returns an active device of the user holding key keyID, or,
// with keyID empty, the user's pinned key: requests are addressed to the
// user's key, which every active device of the user holds, and never to a
// device of another key. 409 if there is none.
func (s *Server) deviceFor(ctx context.Context, userID, keyID string) (*store.Device, error) {
	if keyID == "" {
		u, err := s.store.GetUser(ctx, userID)
		if err != nil {
			return nil, storeFail(err, "user")
		}
		pinned, err := s.pinnedKey(ctx, u)
		if err != nil {
			return nil, err
		}
		if pinned == nil {
			return nil, fail(errConflict, "user has no active device")
		}
		keyID = threshold.DeviceKeyID(pinned)
	}
	devs, err := s.store.ActiveDevices(ctx, userID)
	if err != nil {
		return nil, storeFail(err, "device")
	}
	for _, d := range devs {
		if d.KeyID == keyID {
			return d, nil
		}
	}
	return nil, fail(errConflict, "user has no active device holding the user's device key")
}

// admit applies the limits on requests that reach a device: the caps of
// pending requests per user and per (user, requester) (soft: see
// Config.MaxPendingPerUser), then the rates per (user, requester), per
// requester and per user. The per-requester limits sit below the per-user
// ones, so that one requester cannot lock the user's other requesters out.
// The 429 names the limit that was hit.
func (s *Server) admit(ctx context.Context, userID, requesterID string) error {
	pending, err := s.store.PendingRequests(ctx, userID, s.now(), s.cfg.MaxPendingPerUser)
	if err != nil {
		return storeFail(err, "request")
	}
	mine := 0
	for _, q := range pending {
		if q.Requester.ID == requesterID {
			mine++
		}
	}
	switch {
	case mine >= s.cfg.MaxPendingPerRequester:
		return &apiError{kind: errRateLimited, retryAfter: 30 * time.Second,
			msg: "too many of this client's requests are waiting for this user's device (max-pending-per-requester " + strconv.Itoa(s.cfg.MaxPendingPerRequester) + ")"}
	case len(pending) >= s.cfg.MaxPendingPerUser:
		return &apiError{kind: errRateLimited, retryAfter: 30 * time.Second,
			msg: "too many requests are waiting for this user's device (max-pending " + strconv.Itoa(s.cfg.MaxPendingPerUser) + ")"}
	}
	if ok, limit, wait := s.limits.allow(userID, requesterID, s.clock()); !ok {
		return &apiError{kind: errRateLimited, msg: "too many requests; slow down: past " + limit, retryAfter: wait}
	}
	return nil
}

// notify tells the user's devices of a request: the event hub at once, the
// other notifiers in the background (a push is only a hint; the device also
// lists its pending requests).
func (s *Server) notify(userID, requestID string) {
	if err := s.hub.Notify(context.Background(), userID, requestID); err != nil {
		s.log.Debug("event hub did not take a notification", "request_id", requestID, "error", err)
	}
	for _, n := range s.notifiers {
		if !s.startPush() {
			s.log.Warn("push dropped (too many in flight, or shutting down)", "request_id", requestID)
			continue
		}
		go func() {
			defer s.notifyWG.Done()
			defer func() { <-s.notifySem }()
			ctx, cancel := context.WithTimeout(s.pushCtx, pushTimeout)
			defer cancel()
			if err := s.guard("push", func() error { return n.Notify(ctx, userID, requestID) }); err != nil {
				s.log.Warn("push failed", "request_id", requestID, "error", err)
			}
		}()
	}
}

// pushTimeout bounds one push, retries included.
const pushTimeout = 30 * time.Second

// startPush reserves a slot for one push goroutine, unless the server is
// closing or too many are in flight.
func (s *Server) startPush() bool {
	s.notifyMu.Lock()
	defer s.notifyMu.Unlock()
	select {
	case <-s.closing:
		return false
	default:
	}
	select {
	case s.notifySem <- struct{}{}:
		s.notifyWG.Add(1)
		return true
	default:
		return false
	}
}

// getRecord: GET /v1/records/{rid}[?wait=S], for the creating client or a
// client with records:access.
func (s *Server) getRecord(c *echo.Context) error {
	rid, err := pathRecordID(c, "rid")
	if err != nil {
		return err
	}
	wait, err := queryWait(c)
	if err != nil {
		return err
	}
	load := func(ctx context.Context) (*store.Record, error) { return s.store.GetRecord(ctx, rid) }
	ctx := c.Request().Context()
	rec, err := load(ctx)
	if err != nil {
		return storeFail(err, "record")
	}
	if rec.ClientID != authClient(c).ID && !hasScope(c, ScopeRecordsAccess) {
		return fail(errForbidden, "only the creating client or a client with records:access may read the record")
	}
	rec, err = longPoll(ctx, s, authClient(c).ID, rid, wait, load, func(r *store.Record) string { return r.State })
	if err != nil {
		return storeFail(err, "record")
	}
	return c.JSON(http.StatusOK, recordView(rec))
}

func recordView(rec *store.Record) api.Record {
	out := api.Record{
		RecordID:    rec.ID,
		UserID:      rec.UserID,
		State:       rec.State,
		Title:       rec.Title,
		ContentType: rec.ContentType,
		CreatedAt:   wire(rec.CreatedAt),
	}
	if len(rec.ContentSHA256) > 0 {
		size := rec.Size
		out.Size = &size
		out.ContentSHA256 = rec.ContentSHA256
	}
	if rec.State == store.RecordSealed {
		sealed := wire(rec.SealedAt)
		out.SealedAt = &sealed
		out.Approval = &api.Approval{
			DeviceID: rec.Approval.DeviceID, Statement: rec.Approval.Statement, Signature: rec.Approval.Signature,
			EvaluatedElements: rec.Approval.EvaluatedElements, Proof: rec.Approval.Proof,
		}
	}
	return out
}

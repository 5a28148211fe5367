package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/envelope"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// requestAccess: POST /v1/records/{rid}/access. The record's private input
// is blinded afresh and the user's device asked; the session opens when it
// approves.
func (s *Server) requestAccess(c *echo.Context) error {
	rid, err := pathRecordID(c, "rid")
	if err != nil {
		return err
	}
	var in api.AccessRequest
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := checkText("purpose", in.Purpose, true); err != nil {
		return err
	}
	ctx := c.Request().Context()
	cl := authClient(c)
	rec, err := s.store.GetRecord(ctx, rid)
	if err != nil {
		return storeFail(err, "record")
	}
	if rec.State != store.RecordSealed {
		return fail(errConflict, "record is "+rec.State+"; only a sealed record can be opened")
	}
	dev, err := s.deviceFor(ctx, rec.UserID, rec.DeviceKeyID)
	if err != nil {
		return err
	}
	if err := s.admit(ctx, rec.UserID, cl.ID); err != nil {
		return err
	}
	sid, err := ids.New(ids.Session, s.rand)
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	reqID, err := ids.New(ids.Request, s.rand)
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	blinding, err := oprf.Blind(s.rand, [][]byte{rec.Input})
	if err != nil {
		return failCause(errInternal, msgInternal, err)
	}
	now := s.now()
	expires := now.Add(s.cfg.ApprovalTTL)
	sess := &store.Session{
		ID:          sid,
		RecordID:    rid,
		UserID:      rec.UserID,
		RequesterID: cl.ID,
		Purpose:     in.Purpose,
		RequestID:   reqID,
		State:       store.SessionPendingApproval,
		CreatedAt:   now,
		ExpiresAt:   expires.Add(processingGrace),
	}
	q := s.newRequest(reqID, threshold.KindAccess, rec, dev, cl, in.Purpose, blinding.Elements(), now, expires)
	q.SessionID = sid
	match, err := threshold.MatchCode(q.ID, q.BlindedElements)
	if err != nil {
		blinding.Destroy()
		return failCause(errInternal, msgInternal, err)
	}
	entry, err := s.auditEntry(rec.UserID, store.EventAccessRequested, cl.ID, reqID, requestDetails{RecordID: rid, RequestID: reqID, SessionID: sid})
	if err != nil {
		blinding.Destroy()
		return failCause(errInternal, msgInternal, err)
	}
	// The session, its request and the audit entry are one store call. The
	// secrets are in place before the request exists, so that any answer
	// to it finds them.
	s.pending.put(reqID, &pendingSecrets{
		kind: threshold.KindAccess, userID: rec.UserID, recordID: rid, sessionID: sid,
		blinding: blinding, expires: expires.Add(processingGrace),
	})
	if err := s.store.AskAccess(ctx, sess, q, entry); err != nil && !s.auditLost(err, rec.UserID, reqID) {
		s.pending.drop(reqID)
		return storeFail(err, "session")
	}
	s.notify(rec.UserID, reqID)
	return c.JSON(http.StatusAccepted, api.Pending{
		SessionID: sid, State: store.SessionPendingApproval, RequestID: reqID, ExpiresAt: expires, MatchCode: match,
	})
}

// requesterSession loads the session of path parameter sid, which must be
// the calling client's (403 otherwise).
func (s *Server) requesterSession(c *echo.Context) (*store.Session, error) {
	sid, err := pathID(c, "sid", ids.Session)
	if err != nil {
		return nil, err
	}
	sess, err := s.store.GetSession(c.Request().Context(), sid)
	if err != nil {
		return nil, storeFail(err, "session")
	}
	if sess.RequesterID != authClient(c).ID {
		return nil, fail(errForbidden, "the session belongs to another client")
	}
	return sess, nil
}

// getSession: GET /v1/sessions/{sid}[?wait=S].
func (s *Server) getSession(c *echo.Context) error {
	sess, err := s.requesterSession(c)
	if err != nil {
		return err
	}
	wait, err := queryWait(c)
	if err != nil {
		return err
	}
	load := func(ctx context.Context) (*store.Session, error) { return s.store.GetSession(ctx, sess.ID) }
	sess, err = longPoll(c.Request().Context(), s, sess.RequesterID, sess.ID, wait, load, func(x *store.Session) string { return x.State })
	if err != nil {
		return storeFail(err, "session")
	}
	return c.JSON(http.StatusOK, api.Session{
		SessionID: sess.ID, RecordID: sess.RecordID, State: sess.State,
		ExpiresAt: wire(sess.ExpiresAt), DownloadsLeft: sess.DownloadsLeft,
	})
}

// downloadContent: GET /v1/sessions/{sid}/content. It takes one download
// of an open session and streams the plaintext, each chunk authenticated
// before any of it is sent, with Content-Length, Content-Type and
// Repr-Digest (RFC 9530) of the approved SHA-256. If a chunk fails
// mid-stream the connection is aborted, so the client sees a truncated
// body, never bytes of a bad chunk. The download is also aborted when the
// session ends (at its expiry, even mid-stream) and when the client takes
// nothing for downloadWriteTimeout, so that no client holds the data key.
func (s *Server) downloadContent(c *echo.Context) error {
	sess, err := s.requesterSession(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	now := s.now()
	switch {
	case sess.State == store.SessionConsumed:
		return fail(errGone, "the session has no downloads left")
	case sess.State == store.SessionExpired || (sess.State == store.SessionOpen && !now.Before(sess.ExpiresAt)):
		return fail(errExpired, "the session has expired")
	case sess.State != store.SessionOpen:
		return fail(errConflict, "session is "+sess.State+"; content is served only while it is open")
	}
	dek, ended := s.keys.acquire(sess.ID)
	if dek == nil {
		return s.keyless(ctx, sess)
	}
	retire := false
	defer func() { s.keys.release(sess.ID, retire) }()

	rec, err := s.store.GetRecord(ctx, sess.RecordID)
	if err != nil {
		return storeFail(err, "record")
	}
	blob, err := s.openContent(ctx, rec)
	if err != nil {
		return storeFail(err, "record content")
	}
	defer blob.Close()
	if blob.Size() != envelope.CiphertextSize(rec.Size) {
		return contentFail(errors.New("ciphertext size does not match the record size"))
	}
	rd, err := envelope.NewReader(blob, dek)
	if err != nil {
		return contentFail(err)
	}
	defer rd.Close()
	left, err := s.store.UseDownload(ctx, sess.ID, now)
	switch {
	case errors.Is(err, store.ErrConflict):
		return fail(errGone, "the session has no downloads left")
	case err != nil:
		return storeFail(err, "session")
	}
	retire = left == 0

	h := c.Response().Header()
	h.Set("Content-Type", rec.ContentType)
	h.Set("Content-Length", strconv.FormatInt(rec.Size, 10))
	h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(rec.ContentSHA256)+":")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	// The stream ends with the session: at its expiry, or when the session
	// ends sooner, even while a write is blocked on a client that stopped
	// reading. Otherwise such a client would keep the data key in memory.
	out := newStreamWriter(c.Response(), time.Now().Add(sess.ExpiresAt.Sub(s.clock())))
	stop := context.AfterFunc(ended, out.stop)
	defer stop()
	c.Response().WriteHeader(http.StatusOK)
	n, err := io.Copy(out, rd)
	if err != nil || n != rec.Size {
		log := requestLogger(c, s.log)
		if errors.Is(err, envelope.ErrCorrupt) || (err == nil && n != rec.Size) {
			log.Error("record content failed authentication mid-stream; download aborted", "record_id", rec.ID, "session_id", sess.ID, "sent", n)
		} else {
			log.Info("download ended early", "record_id", rec.ID, "session_id", sess.ID, "sent", n, "error", err)
		}
		// Abort the response: net/http resets the connection (HTTP/1) or
		// the stream (HTTP/2), so the client cannot take what it got for
		// a whole body.
		panic(http.ErrAbortHandler)
	}
	s.audit(ctx, sess.UserID, store.EventContentDelivered, sess.RequesterID, sess.ID,
		deliveryDetails{RecordID: rec.ID, DownloadsLeft: left})
	s.changes.changed(sess.ID)
	return nil
}

// downloadWriteTimeout bounds each write of a download: a client that
// takes nothing for this long is cut off.
const downloadWriteTimeout = 10 * time.Second

// errStreamStopped is the write error of a stopped streamWriter.
var errStreamStopped = errors.New("the session ended during the download")

// streamWriter writes a response body under a write deadline renewed
// before each write, never past end, and can be stopped from another
// goroutine, which also fails a write blocked at that moment.
type streamWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	end time.Time

	mu      sync.Mutex
	stopped bool
}

func newStreamWriter(w http.ResponseWriter, end time.Time) *streamWriter {
	return &streamWriter{w: w, rc: http.NewResponseController(w), end: end}
}

// arm sets the deadline of the next write, unless the writer is stopped.
// Under mu, so that a stop in between cannot be undone.
func (sw *streamWriter) arm() error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if sw.stopped {
		return errStreamStopped
	}
	deadline := time.Now().Add(downloadWriteTimeout)
	if sw.end.Before(deadline) {
		deadline = sw.end
	}
	// A writer without deadlines (a test recorder) still works; only the
	// bound is lost. net/http lifts the deadline once the handler is done,
	// before the next request on the connection.
	_ = sw.rc.SetWriteDeadline(deadline)
	return nil
}

func (sw *streamWriter) Write(p []byte) (int, error) {
	if err := sw.arm(); err != nil {
		return 0, err
	}
	return sw.w.Write(p)
}

// stop fails the write in progress, if any, and every later one.
func (sw *streamWriter) stop() {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.stopped = true
	_ = sw.rc.SetWriteDeadline(time.Unix(1, 0))
}

// contentFail classifies a failure to read a record's ciphertext: a storage
// error is 503, anything else means the content is damaged.
func contentFail(err error) error {
	if errors.Is(err, envelope.ErrCorrupt) || !errors.Is(err, store.ErrUnavailable) {
		return failCause(errInternal, "the record's content is damaged", err)
	}
	return failCause(errUnavailable, "the blob store is unavailable; try again later", err)
}

// keyless answers a download of an open session whose key this node does
// not hold: either another node opened it (which alone can serve it), or
// the key died with an earlier run of this node, and the session is over.
func (s *Server) keyless(ctx context.Context, sess *store.Session) error {
	q, err := s.store.GetRequest(ctx, sess.RequestID)
	if err != nil {
		return storeFail(err, "session")
	}
	if q.OwnerNode != s.cfg.NodeID {
		return fail(errConflict, "the session is served by API node "+q.OwnerNode)
	}
	s.endSession(ctx, sess.UserID, sess.ID, store.SessionExpired)
	return fail(errExpired, "the session's key is no longer held by the server; ask for access again")
}

// openContent opens the ciphertext of a sealed record: kept by the store
// for a small record (no blob name), else its committed blob.
func (s *Server) openContent(ctx context.Context, rec *store.Record) (store.Blob, error) {
	if rec.BlobName != "" {
		return s.blobs.Open(ctx, rec.BlobName)
	}
	b, err := s.store.RecordContent(ctx, rec.ID)
	if err != nil {
		return nil, err
	}
	return &keptContent{Reader: bytes.NewReader(b), size: int64(len(b))}, nil
}

// keptContent is a record's ciphertext read from the store, as a
// store.Blob.
type keptContent struct {
	*bytes.Reader
	size int64
}

func (k *keptContent) Size() int64  { return k.size }
func (k *keptContent) Close() error { return nil }

package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/assent-dev/assent/api"
)

// RequestAccess asks to open a sealed record for purpose
// (POST /v1/records/{rid}/access, scope records:access). The 202 answer
// names the session and carries the request's MatchCode, to show the user
// (their device may ask for it); wait for the device with AwaitSession.
func (c *Client) RequestAccess(ctx context.Context, rid, purpose string) (*api.Pending, error) {
	var out api.Pending
	if err := c.call(ctx, http.MethodPost, api.RecordAccessPath(rid), api.AccessRequest{Purpose: purpose}, http.StatusAccepted, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Session reads an access session this client asked for
// (GET /v1/sessions/{sid}), long-polling up to wait while it is pending.
func (c *Client) Session(ctx context.Context, sid string, wait time.Duration) (*api.Session, error) {
	var out api.Session
	if err := c.call(ctx, http.MethodGet, api.SessionPath(sid)+waitQuery(wait), nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AwaitSession long-polls a session until it leaves pending_approval (open,
// denied or expired) or ctx ends, and returns it.
func (c *Client) AwaitSession(ctx context.Context, sid string) (*api.Session, error) {
	return await(ctx, func() (*api.Session, string, error) {
		s, err := c.Session(ctx, sid, longPoll)
		if err != nil {
			return nil, "", err
		}
		return s, s.State, nil
	})
}

// Download is what a content download delivered; its SHA256 equals the Repr-Digest the server sent, or Download failed.
type Download struct {
	Size        int64  // bytes written
	SHA256      []byte // of the bytes written, equal to the approved digest
	ContentType string
}

// Download streams an open session's plaintext into w
// (GET /v1/sessions/{sid}/content), hashing it as it goes. It fails with an
// *api.Error for a refusal (api.ErrGone once the downloads are used up), and
// with ErrDigestMismatch if the bytes received do not hash to the
// Repr-Digest header (the SHA-256 the device approved) or are not as long
// as Content-Length: the bytes already written to w must then be discarded.
// A header without a SHA-256 digest fails before anything is written.
func (c *Client) Download(ctx context.Context, sid string, w io.Writer) (*Download, error) {
	req, err := c.newRequest(ctx, http.MethodGet, api.SessionContentPath(sid), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(req, http.StatusOK)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	want, err := ParseReprDigest(resp.Header.Get(api.HeaderReprDigest))
	if err != nil {
		return nil, err
	}
	d := &Download{ContentType: resp.Header.Get("Content-Type")}
	h := sha256.New()
	d.Size, err = io.Copy(io.MultiWriter(w, h), resp.Body)
	if err != nil {
		return nil, fmt.Errorf("client: download cut short after %d bytes: %w", d.Size, err)
	}
	d.SHA256 = h.Sum(nil)
	if resp.ContentLength >= 0 && d.Size != resp.ContentLength {
		return nil, fmt.Errorf("%w: %d bytes, Content-Length %d", ErrDigestMismatch, d.Size, resp.ContentLength)
	}
	if !bytes.Equal(d.SHA256, want) {
		return nil, ErrDigestMismatch
	}
	return d, nil
}

// ParseReprDigest reads the SHA-256 of an RFC 9530 Repr-Digest value,
// "sha-256=:<base64>:"; any other form fails with ErrDigestMismatch.
func ParseReprDigest(v string) ([]byte, error) {
	b64, ok := strings.CutPrefix(v, "sha-256=:")
	if b64, ok2 := strings.CutSuffix(b64, ":"); ok && ok2 {
		if sum, err := base64.StdEncoding.Strict().DecodeString(b64); err == nil && len(sum) == sha256.Size {
			return sum, nil
		}
	}
	return nil, fmt.Errorf("%w: Repr-Digest is not a SHA-256 in base64 between colons", ErrDigestMismatch)
}

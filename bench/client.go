package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/client"
	"github.com/assent-dev/assent/server"
)

// apiClient is a third party of the benchmark: the SDK's client (package
// client), as any third party would use it, with the benchmark's timeouts
// and answers checked; and the raw key for the no-consent baseline route,
// which only the benchmark's server serves.
type apiClient struct {
	c    *client.Client
	base string
	key  string
	hc   *http.Client
}

func newAPIClient(base, key string) (*apiClient, error) {
	hc := newHTTPClient()
	c, err := client.New(base, key, &client.Options{HTTPClient: hc, UserAgent: "assent-bench"})
	if err != nil {
		return nil, err
	}
	return &apiClient{c: c, base: base, key: key, hc: hc}, nil
}

// newHTTPClient returns a client that keeps enough idle connections for the
// highest concurrency, so that the run measures requests, not handshakes.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2048
	t.MaxIdleConnsPerHost = 2048
	return &http.Client{Transport: t}
}

// callTimeout bounds a call without content; a content upload gets as
// much again per 10 MB, so that a stuck server fails the run instead of
// hanging it.
const callTimeout = 2 * time.Minute

func withTimeout(ctx context.Context, size int64) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, callTimeout*time.Duration(1+size/10e6))
}

// createUser creates a user and returns its id and enrollment code.
func (c *apiClient) createUser(ctx context.Context, externalID string) (uid, code string, err error) {
	ctx, cancel := withTimeout(ctx, 0)
	defer cancel()
	e, err := c.c.CreateUser(ctx, externalID, "Bench User")
	if err != nil {
		return "", "", err
	}
	return e.UserID, e.EnrollmentCode, nil
}

// createRecord creates a record of uid awaiting its upload.
func (c *apiClient) createRecord(ctx context.Context, uid string) (string, error) {
	ctx, cancel := withTimeout(ctx, 0)
	defer cancel()
	r, err := c.c.CreateRecord(ctx, uid, api.CreateRecordRequest{Title: "bench record", ContentType: "application/octet-stream", Purpose: "benchmark"})
	if err != nil {
		return "", err
	}
	return r.RecordID, nil
}

// upload streams size bytes of content into record rid; the server answers
// once the record waits for the device.
func (c *apiClient) upload(ctx context.Context, rid string, content io.Reader, size int64) (requestID string, err error) {
	ctx, cancel := withTimeout(ctx, size)
	defer cancel()
	p, err := c.c.Upload(ctx, rid, content, size)
	if err != nil {
		return "", err
	}
	return p.RequestID, nil
}

// uploadBaseline uploads content to record rid on the no-consent baseline
// route, which seals it before answering.
func (c *apiClient) uploadBaseline(ctx context.Context, rid string, content io.Reader, size int64) error {
	ctx, cancel := withTimeout(ctx, size)
	defer cancel()
	path := strings.Replace(server.BaselineUploadPath, ":rid", rid, 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.base+path, content)
	if err != nil {
		return err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(api.HeaderAuthorization, api.BearerPrefix+c.key)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := client.CheckResponse(resp, http.StatusOK); err != nil {
		return fmt.Errorf("baseline upload of %s: %w", rid, err)
	}
	var out struct {
		State string `json:"state"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return err
	}
	if out.State != api.RecordSealed {
		return fmt.Errorf("baseline upload of %s: record is %s", rid, out.State)
	}
	return nil
}

// awaitRecord long-polls record rid until it leaves pending_approval, and
// fails unless it is sealed.
func (c *apiClient) awaitRecord(ctx context.Context, rid string) error {
	r, err := c.c.AwaitRecord(ctx, rid)
	if err == nil && r.State != api.RecordSealed {
		err = fmt.Errorf("record %s is %q, want %q", rid, r.State, api.RecordSealed)
	}
	return err
}

// requestAccess asks to open record rid and returns the session id.
func (c *apiClient) requestAccess(ctx context.Context, rid string) (sessionID, requestID string, err error) {
	ctx, cancel := withTimeout(ctx, 0)
	defer cancel()
	p, err := c.c.RequestAccess(ctx, rid, "benchmark")
	if err != nil {
		return "", "", err
	}
	return p.SessionID, p.RequestID, nil
}

// awaitSession long-polls session sid until it is no longer pending, and
// fails unless it is open.
func (c *apiClient) awaitSession(ctx context.Context, sid string) error {
	s, err := c.c.AwaitSession(ctx, sid)
	if err == nil && s.State != api.SessionOpen {
		err = fmt.Errorf("session %s is %q, want %q", sid, s.State, api.SessionOpen)
	}
	return err
}

// download reads the content of open session sid (the SDK checks it
// against the Repr-Digest header) and against wantSum, returning its size.
func (c *apiClient) download(ctx context.Context, sid string, size int64, wantSum []byte) (int64, error) {
	ctx, cancel := withTimeout(ctx, size)
	defer cancel()
	d, err := c.c.Download(ctx, sid, io.Discard)
	if err != nil {
		return 0, err
	}
	if wantSum != nil && !bytes.Equal(d.SHA256, wantSum) {
		return d.Size, errors.New("downloaded content differs from the uploaded content")
	}
	return d.Size, nil
}

// hashingReader hashes what is read through it.
type hashingReader struct {
	r io.Reader
	h hash.Hash
}

func newHashingReader(r io.Reader) *hashingReader { return &hashingReader{r: r, h: sha256.New()} }

func (h *hashingReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.h.Write(p[:n])
	return n, err
}

func (h *hashingReader) sum() []byte { return h.h.Sum(nil) }

package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
)

// apiClient is a third party of the benchmark: the HTTP calls of DESIGN.md's
// API that it makes, with its API key.
type apiClient struct {
	base string
	key  string
	hc   *http.Client
}

// newHTTPClient returns a client that keeps enough idle connections for the
// highest concurrency, so that the run measures requests, not handshakes.
func newHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2048
	t.MaxIdleConnsPerHost = 2048
	return &http.Client{Transport: t}
}

// apiError is a refusal of the server.
type apiError struct {
	method, path string
	status       int
	body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: server answered %d: %s", e.method, e.path, e.status, e.body)
}

// callTimeout bounds a call without content; a content upload gets as
// much again per 10 MB, so that a stuck server fails the run instead of
// hanging it.
const callTimeout = 2 * time.Minute

// call sends a request with body (JSON-encoded unless it is an io.Reader)
// and decodes a JSON answer into out when the status is want.
func (c *apiClient) call(ctx context.Context, method, path string, body any, size int64, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout*time.Duration(1+size/10e6))
	defer cancel()
	var rd io.Reader
	ctype := ""
	switch v := body.(type) {
	case nil:
	case io.Reader:
		rd, ctype = v, "application/octet-stream"
	default:
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		rd, ctype, size = bytes.NewReader(data), "application/json", int64(len(data))
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if rd != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return &apiError{method: method, path: path, status: resp.StatusCode, body: strings.TrimSpace(string(msg))}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(out)
}

// createUser creates a user and returns its id and enrollment code.
func (c *apiClient) createUser(ctx context.Context, externalID string) (uid, code string, err error) {
	var out struct {
		UserID         string `json:"user_id"`
		EnrollmentCode string `json:"enrollment_code"`
	}
	err = c.call(ctx, http.MethodPost, "/v1/users", map[string]string{"external_id": externalID, "display_name": "Bench User"},
		0, http.StatusCreated, &out)
	return out.UserID, out.EnrollmentCode, err
}

// createRecord creates a record of uid awaiting its upload.
func (c *apiClient) createRecord(ctx context.Context, uid string) (string, error) {
	var out struct {
		RecordID string `json:"record_id"`
	}
	err := c.call(ctx, http.MethodPost, "/v1/users/"+uid+"/records",
		map[string]string{"title": "bench record", "content_type": "application/octet-stream", "purpose": "benchmark"},
		0, http.StatusCreated, &out)
	return out.RecordID, err
}

// upload streams size bytes of content into record rid; the server answers
// once the record waits for the device.
func (c *apiClient) upload(ctx context.Context, rid string, content io.Reader, size int64) (requestID string, err error) {
	var out struct {
		RequestID string `json:"request_id"`
	}
	err = c.call(ctx, http.MethodPut, "/v1/records/"+rid+"/content", content, size, http.StatusAccepted, &out)
	return out.RequestID, err
}

// uploadBaseline uploads content to record rid on the no-consent baseline
// route, which seals it before answering.
func (c *apiClient) uploadBaseline(ctx context.Context, rid string, content io.Reader, size int64) error {
	var out struct {
		State string `json:"state"`
	}
	path := strings.Replace(server.BaselineUploadPath, ":rid", rid, 1)
	if err := c.call(ctx, http.MethodPut, path, content, size, http.StatusOK, &out); err != nil {
		return err
	}
	if out.State != store.RecordSealed {
		return fmt.Errorf("baseline upload of %s: record is %s", rid, out.State)
	}
	return nil
}

// awaitRecord long-polls record rid until it leaves pending_approval, and
// fails unless it is sealed.
func (c *apiClient) awaitRecord(ctx context.Context, rid string) error {
	return c.await(ctx, "/v1/records/"+rid, store.RecordPendingApproval, store.RecordSealed)
}

// requestAccess asks to open record rid and returns the session id.
func (c *apiClient) requestAccess(ctx context.Context, rid string) (sessionID, requestID string, err error) {
	var out struct {
		SessionID string `json:"session_id"`
		RequestID string `json:"request_id"`
	}
	err = c.call(ctx, http.MethodPost, "/v1/records/"+rid+"/access", map[string]string{"purpose": "benchmark"},
		0, http.StatusAccepted, &out)
	return out.SessionID, out.RequestID, err
}

// awaitSession long-polls session sid until it is no longer pending, and
// fails unless it is open.
func (c *apiClient) awaitSession(ctx context.Context, sid string) error {
	return c.await(ctx, "/v1/sessions/"+sid, store.SessionPendingApproval, store.SessionOpen)
}

func (c *apiClient) await(ctx context.Context, path, waiting, want string) error {
	for {
		var out struct {
			State string `json:"state"`
		}
		if err := c.call(ctx, http.MethodGet, path+"?wait=30", nil, 0, http.StatusOK, &out); err != nil {
			return err
		}
		switch out.State {
		case want:
			return nil
		case waiting:
			continue
		}
		return fmt.Errorf("%s is %q, want %q", path, out.State, want)
	}
}

// download reads the content of open session sid and checks it against
// the Repr-Digest header and wantSum, returning its size.
func (c *apiClient) download(ctx context.Context, sid string, size int64, wantSum []byte) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout*time.Duration(1+size/10e6))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/sessions/"+sid+"/content", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, &apiError{method: http.MethodGet, path: req.URL.Path, status: resp.StatusCode, body: string(msg)}
	}
	h := sha256.New()
	n, err := io.CopyBuffer(h, resp.Body, make([]byte, 256<<10))
	if err != nil {
		return n, err
	}
	sum := h.Sum(nil)
	header := "sha-256=:" + base64.StdEncoding.EncodeToString(sum) + ":"
	if got := resp.Header.Get("Repr-Digest"); got != header {
		return n, fmt.Errorf("download of %d bytes: Repr-Digest %q does not match the content", n, got)
	}
	if wantSum != nil && !bytes.Equal(sum, wantSum) {
		return n, errors.New("downloaded content differs from the uploaded content")
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.FormatInt(n, 10) {
		return n, fmt.Errorf("downloaded %d bytes, Content-Length %s", n, cl)
	}
	return n, nil
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

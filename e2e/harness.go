// Package e2e runs Assent end to end, as DESIGN.md's flows describe it,
// with nothing faked: the real server (server.New) serving on a loopback
// listener over the embedded store (SQLite, a blob directory and a master
// key file in one data directory), the real device library (package
// device) enrolled over HTTP and answering over HTTP and Server-Sent
// Events, and a third party speaking plain HTTP with an API key.
//
// This file is the harness; the package's tests are the acceptance tests of
// the service, and `assent demo` runs the same parts once, at size.
package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/blobdir"
	"github.com/assent-dev/assent/store/sqlite"
	"github.com/assent-dev/assent/threshold"
)

// Node is one running server over the embedded store of a data directory.
type Node struct {
	Server *server.Server
	Store  *sqlite.Store
	Blobs  *blobdir.Store
	Config server.Config // with defaults applied
	URL    string        // http://127.0.0.1:port

	master *threshold.MasterKey
	stop   context.CancelFunc
	done   chan error
}

// StartNode opens the SQLite store, blob directory and master key that cfg
// names (made on first use), expires what an earlier run on the same data
// left pending (server.Start), and serves on cfg.Listen until Stop.
func StartNode(cfg server.Config, log *slog.Logger) (_ *Node, err error) {
	cfg = cfg.WithDefaults()
	n := &Node{Config: cfg}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	ctx := context.Background()
	if n.Store, err = sqlite.Open(ctx, cfg.DataDir); err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	if n.Blobs, err = blobdir.Open(cfg.BlobDir); err != nil {
		return nil, fmt.Errorf("opening the blob directory: %w", err)
	}
	if n.master, err = threshold.LoadOrCreateMasterKey(cfg.MasterKeyPath, rand.Reader); err != nil {
		return nil, fmt.Errorf("loading the master key: %w", err)
	}
	n.Server, err = server.New(cfg, server.Deps{Store: n.Store, Blobs: n.Blobs, MasterKey: n.master, Logger: log})
	if err != nil {
		return nil, err
	}
	if err := n.Server.Start(ctx); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		n.Server.Close()
		return nil, err
	}
	n.URL = "http://" + ln.Addr().String()
	n.Config.Listen = ln.Addr().String()
	ctx, n.stop = context.WithCancel(ctx)
	n.done = make(chan error, 1)
	go func() { n.done <- n.Server.Serve(ctx, ln) }()
	return n, nil
}

// Stop shuts the server down gracefully (server.Serve's shutdown) and
// closes the store. A new node may then start on the same Config.
func (n *Node) Stop() error {
	n.stop()
	err := <-n.done
	return errors.Join(err, n.close())
}

func (n *Node) close() error {
	var err error
	if n.Store != nil {
		err = n.Store.Close()
	}
	if n.Blobs != nil {
		err = errors.Join(err, n.Blobs.Close())
	}
	if n.master != nil {
		n.master.Destroy()
	}
	return err
}

// APIError is a refusal of the server: the HTTP status and the code and
// message of DESIGN.md's error body (empty if the body had none).
type APIError struct {
	Status        int
	Code, Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("server answered %d %s: %q", e.Status, e.Code, e.Message)
}

// ThirdParty is a client of the API holding an API key: a clinic, a bank,
// a web app.
type ThirdParty struct {
	ID   string // its client id, cli_…
	Name string
	base string
	key  string
	hc   *http.Client
}

// NewThirdParty registers a third party with scopes the way `assent admin
// client create` does (server.CreateClient on the node's store) and returns
// a client of the node holding its API key.
func NewThirdParty(ctx context.Context, n *Node, name string, scopes ...string) (*ThirdParty, error) {
	key, cl, err := server.CreateClient(ctx, n.Store, rand.Reader, time.Now(), name, scopes)
	if err != nil {
		return nil, err
	}
	return &ThirdParty{ID: cl.ID, Name: name, base: n.URL, key: key, hc: &http.Client{}}, nil
}

// User is the answer to POST /v1/users.
type User struct {
	UserID              string    `json:"user_id"`
	EnrollmentCode      string    `json:"enrollment_code"`
	EnrollmentExpiresAt time.Time `json:"enrollment_expires_at"`
}

// Pending is the 202 answer of a call that waits on the device.
type Pending struct {
	RecordID  string    `json:"record_id"`
	SessionID string    `json:"session_id"`
	State     string    `json:"state"`
	RequestID string    `json:"request_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Approval is what the device signed, as a sealed record shows it.
type Approval struct {
	DeviceID          string   `json:"device_id"`
	Statement         []byte   `json:"statement"`
	Signature         []byte   `json:"signature"`
	EvaluatedElements [][]byte `json:"evaluated_elements"`
	Proof             []byte   `json:"proof"`
}

// Record is GET /v1/records/{rid}.
type Record struct {
	RecordID      string     `json:"record_id"`
	UserID        string     `json:"user_id"`
	State         string     `json:"state"`
	Title         string     `json:"title"`
	ContentType   string     `json:"content_type"`
	Size          *int64     `json:"size"`
	ContentSHA256 []byte     `json:"content_sha256"`
	CreatedAt     time.Time  `json:"created_at"`
	SealedAt      *time.Time `json:"sealed_at"`
	Approval      *Approval  `json:"approval"`
}

// Session is GET /v1/sessions/{sid}.
type Session struct {
	SessionID     string    `json:"session_id"`
	RecordID      string    `json:"record_id"`
	State         string    `json:"state"`
	ExpiresAt     time.Time `json:"expires_at"`
	DownloadsLeft int       `json:"downloads_left"`
}

// Send sends one request with the API key and returns the response for
// the caller to read and close. A body of type []byte is sent as JSON, an
// io.Reader as the raw content of size bytes.
func (tp *ThirdParty) Send(ctx context.Context, method, path string, body any, size int64) (*http.Response, error) {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype, size = bytes.NewReader(b), "application/json", int64(len(b))
	case io.Reader:
		rd, ctype = b, "application/octet-stream"
	default:
		return nil, fmt.Errorf("e2e: body of type %T", body)
	}
	req, err := http.NewRequestWithContext(ctx, method, tp.base+path, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.ContentLength = size
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+tp.key)
	return tp.hc.Do(req)
}

// call sends in as JSON (none if nil) and decodes the answer into out when
// the status is want; any other status is an *APIError.
func (tp *ThirdParty) call(ctx context.Context, method, path string, in any, want int, out any) error {
	var body any
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = b
	}
	resp, err := tp.Send(ctx, method, path, body, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeAnswer(resp, want, out)
}

// decodeAnswer reads a JSON answer of status want into out, or the error
// body of any other status into an *APIError.
func decodeAnswer(resp *http.Response, want int, out any) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return ReadAPIError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("e2e: decoding %s %s: %w", resp.Request.Method, resp.Request.URL.Path, err)
	}
	return nil
}

// ReadAPIError makes the *APIError of a refusal with status and body.
func ReadAPIError(status int, body []byte) *APIError {
	var b struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e := &APIError{Status: status}
	if json.Unmarshal(body, &b) == nil {
		e.Code, e.Message = b.Error.Code, b.Error.Message
	}
	return e
}

// CreateUser creates a user (POST /v1/users) with its first enrollment code.
func (tp *ThirdParty) CreateUser(ctx context.Context, externalID, displayName string) (*User, error) {
	var u User
	in := map[string]string{"external_id": externalID, "display_name": displayName}
	return &u, tp.call(ctx, http.MethodPost, "/v1/users", in, http.StatusCreated, &u)
}

// CreateRecord creates a record awaiting its upload (POST
// /v1/users/{uid}/records) and returns its id.
func (tp *ThirdParty) CreateRecord(ctx context.Context, uid, title, contentType, purpose string) (string, error) {
	var out struct {
		RecordID string `json:"record_id"`
		State    string `json:"state"`
	}
	in := map[string]string{"title": title, "content_type": contentType, "purpose": purpose}
	if err := tp.call(ctx, http.MethodPost, "/v1/users/"+uid+"/records", in, http.StatusCreated, &out); err != nil {
		return "", err
	}
	if out.State != store.RecordAwaitingUpload {
		return "", fmt.Errorf("e2e: new record is %q", out.State)
	}
	return out.RecordID, nil
}

// Upload streams size bytes of content (PUT /v1/records/{rid}/content).
func (tp *ThirdParty) Upload(ctx context.Context, rid string, content io.Reader, size int64) (*Pending, error) {
	resp, err := tp.Send(ctx, http.MethodPut, "/v1/records/"+rid+"/content", content, size)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var p Pending
	return &p, decodeAnswer(resp, http.StatusAccepted, &p)
}

// Record reads a record (GET /v1/records/{rid}), long-polling up to wait
// while it is pending approval.
func (tp *ThirdParty) Record(ctx context.Context, rid string, wait time.Duration) (*Record, error) {
	var r Record
	return &r, tp.call(ctx, http.MethodGet, "/v1/records/"+rid+waitQuery(wait), nil, http.StatusOK, &r)
}

// Access asks to open a record (POST /v1/records/{rid}/access).
func (tp *ThirdParty) Access(ctx context.Context, rid, purpose string) (*Pending, error) {
	var p Pending
	return &p, tp.call(ctx, http.MethodPost, "/v1/records/"+rid+"/access", map[string]string{"purpose": purpose}, http.StatusAccepted, &p)
}

// Session reads a session (GET /v1/sessions/{sid}), long-polling up to
// wait while it is pending approval.
func (tp *ThirdParty) Session(ctx context.Context, sid string, wait time.Duration) (*Session, error) {
	var s Session
	return &s, tp.call(ctx, http.MethodGet, "/v1/sessions/"+sid+waitQuery(wait), nil, http.StatusOK, &s)
}

func waitQuery(wait time.Duration) string {
	if wait <= 0 {
		return ""
	}
	return "?wait=" + strconv.Itoa(int(wait.Seconds()))
}

// longPoll is the longest ?wait= the harness asks for at once.
const longPoll = 30 * time.Second

// AwaitRecord long-polls a record until it leaves pending_approval or ctx
// ends, and returns it.
func (tp *ThirdParty) AwaitRecord(ctx context.Context, rid string) (*Record, error) {
	return await(ctx, func() (*Record, string, error) {
		r, err := tp.Record(ctx, rid, longPoll)
		return r, stateOf(r, err, func(r *Record) string { return r.State }), err
	})
}

// AwaitSession long-polls a session until it leaves pending_approval or
// ctx ends, and returns it.
func (tp *ThirdParty) AwaitSession(ctx context.Context, sid string) (*Session, error) {
	return await(ctx, func() (*Session, string, error) {
		s, err := tp.Session(ctx, sid, longPoll)
		return s, stateOf(s, err, func(s *Session) string { return s.State }), err
	})
}

func stateOf[T any](v T, err error, state func(T) string) string {
	if err != nil {
		return ""
	}
	return state(v)
}

func await[T any](ctx context.Context, get func() (T, string, error)) (T, error) {
	for {
		start := time.Now()
		v, state, err := get()
		if err != nil || state != store.RecordPendingApproval {
			return v, err
		}
		// A long poll that ends early without a change (a server shutting
		// down ends them all) is not repeated at once.
		if time.Since(start) < time.Second {
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
		if err := ctx.Err(); err != nil {
			return v, fmt.Errorf("e2e: still %s: %w", state, err)
		}
	}
}

// Download is what a content download delivered.
type Download struct {
	Size        int64
	SHA256      []byte // of the bytes received
	ReprDigest  []byte // the SHA-256 the Repr-Digest header carried
	ContentType string
}

// Download streams a session's content (GET /v1/sessions/{sid}/content)
// into w, hashing it. It fails with an *APIError for a refusal, and if the
// body is cut short, does not match its Content-Length, or its SHA-256
// differs from the Repr-Digest header.
func (tp *ThirdParty) Download(ctx context.Context, sid string, w io.Writer) (*Download, error) {
	resp, err := tp.Send(ctx, http.MethodGet, "/v1/sessions/"+sid+"/content", nil, 0)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, decodeAnswer(resp, http.StatusOK, nil)
	}
	d := &Download{ContentType: resp.Header.Get("Content-Type")}
	if d.ReprDigest, err = parseReprDigest(resp.Header.Get("Repr-Digest")); err != nil {
		return nil, err
	}
	h := sha256.New()
	if d.Size, err = io.Copy(io.MultiWriter(w, h), resp.Body); err != nil {
		return nil, fmt.Errorf("e2e: download cut short after %d bytes: %w", d.Size, err)
	}
	d.SHA256 = h.Sum(nil)
	if d.Size != resp.ContentLength {
		return nil, fmt.Errorf("e2e: downloaded %d bytes, Content-Length says %d", d.Size, resp.ContentLength)
	}
	if !bytes.Equal(d.SHA256, d.ReprDigest) {
		return nil, errors.New("e2e: downloaded content does not match its Repr-Digest")
	}
	return d, nil
}

// parseReprDigest reads "sha-256=:<base64>:" (RFC 9530).
func parseReprDigest(v string) ([]byte, error) {
	b64, ok := strings.CutPrefix(v, "sha-256=:")
	if b64, ok2 := strings.CutSuffix(b64, ":"); ok && ok2 {
		if sum, err := base64.StdEncoding.Strict().DecodeString(b64); err == nil && len(sum) == sha256.Size {
			return sum, nil
		}
	}
	return nil, fmt.Errorf("e2e: Repr-Digest %q is not sha-256 of 32 bytes in base64 between colons", v)
}

// Device is a user's device: the device library's client, its enrolled
// identity and ledger, and, given a policy, its agent answering requests.
type Device struct {
	Client   *device.Client
	Identity *device.Identity
	Ledger   *device.Ledger
	Agent    *device.Agent // nil without a policy

	stop context.CancelFunc
	done chan struct{}
}

// EnrollDevice enrolls a device over HTTP with an enrollment code
// (device.Client.Enroll) and opens its ledger at ledgerPath. With a policy
// it starts the agent (device.Agent.Run: the event stream, with listing as
// the fallback) and returns once the event stream is connected; o.Notify,
// if set, is told everything as well.
func EnrollDevice(ctx context.Context, serverURL, code, name, ledgerPath string, policy device.Policy, o device.AgentOptions) (_ *Device, err error) {
	d := &Device{}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	anon, err := device.NewClient(serverURL, nil, device.ClientOptions{})
	if err != nil {
		return nil, err
	}
	if d.Identity, err = anon.Enroll(ctx, code, device.EnrollOptions{Name: name}); err != nil {
		return nil, err
	}
	if d.Client, err = device.NewClient(serverURL, d.Identity, device.ClientOptions{}); err != nil {
		return nil, err
	}
	if d.Ledger, err = device.OpenLedger(ledgerPath); err != nil {
		return nil, err
	}
	if policy == nil {
		return d, nil
	}
	connected := make(chan struct{}, 1)
	notify := o.Notify
	o.Notify = func(n device.Notice) {
		if n.Kind == device.NoticeConnected {
			select {
			case connected <- struct{}{}:
			default:
			}
		}
		if notify != nil {
			notify(n)
		}
	}
	if d.Agent, err = device.NewAgent(d.Client, d.Ledger, policy, o); err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	d.stop, d.done = stop, make(chan struct{})
	go func() {
		defer close(d.done)
		_ = d.Agent.Run(runCtx)
	}()
	select {
	case <-connected:
		return d, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("e2e: the device's event stream did not connect: %w", ctx.Err())
	}
}

// Close stops the agent, closes the ledger and clears the identity.
func (d *Device) Close() error {
	if d.stop != nil {
		d.stop()
		<-d.done
	}
	var err error
	if d.Ledger != nil {
		err = d.Ledger.Close()
	}
	if d.Identity != nil {
		d.Identity.Destroy()
	}
	return err
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// The multi-node tests run the real binary: `assent serve` processes on
// loopback sharing one store, as DESIGN.md's Scale-out describes them.

// Bounds of every wait on a child process.
const (
	nodeStartTimeout = 30 * time.Second
	nodeStopTimeout  = 20 * time.Second
	callTimeout      = 30 * time.Second
)

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// assentBinary builds the assent binary once per test process (without
// -race: the servers' own races are the business of the server tests) and
// returns its path. `go test` puts its own go first on PATH.
func assentBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "assent-bin-"); binErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		path := filepath.Join(binDir, "assent")
		out, err := exec.CommandContext(ctx, "go", "build", "-o", path, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		binPath = path
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// assentNode is one `assent serve` child process.
type assentNode struct {
	t    *testing.T
	id   string // its -node-id
	url  string // from its "serving on" line
	cmd  *exec.Cmd
	logs *syncBuffer // its stderr: the JSON log
	done chan struct{}
	err  error // Wait's result, once done is closed
}

var servingLine = regexp.MustCompile(`^assent: serving on (http://127\.0\.0\.1:[0-9]+) `)

// startNode starts `assent serve` as node nodeID on a free loopback port,
// with env added to the environment, and waits for its "serving on" line.
// The process is stopped (SIGINT, then SIGKILL past nodeStopTimeout) when
// the test ends, and dies with the test process whatever happens
// (setParentDeath). Its log is shown if the test failed.
func startNode(t *testing.T, nodeID string, env []string, args ...string) *assentNode {
	t.Helper()
	bin := assentBinary(t)
	n := &assentNode{t: t, id: nodeID, logs: &syncBuffer{}, done: make(chan struct{})}
	all := append([]string{"serve", "-listen", "127.0.0.1:0", "-node-id", nodeID, "-log-level", "debug",
		"-user-rate", "-1", "-requester-rate", "-1"}, args...)
	n.cmd = exec.Command(bin, all...)
	n.cmd.Env = append(os.Environ(), env...)
	n.cmd.Stderr = n.logs
	setParentDeath(n.cmd)
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() {
		n.err = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() {
		n.stop()
		if t.Failed() {
			t.Logf("log of %s:\n%s", n.id, tail(n.logs.String(), 60))
		}
	})
	select {
	case line := <-lines:
		m := servingLine.FindStringSubmatch(line)
		if m == nil {
			<-n.done
			t.Fatalf("%s: start line %q (%v)\n%s", nodeID, line, n.err, n.logs.String())
		}
		n.url = m[1]
	case <-time.After(nodeStartTimeout):
		t.Fatalf("%s: not serving after %v\n%s", nodeID, nodeStartTimeout, n.logs.String())
	}
	return n
}

// stop ends the node as an operator would (SIGINT) and expects a clean
// exit; a node that does not stop in time is killed and the test fails.
// Stopping a stopped node does nothing.
func (n *assentNode) stop() {
	select {
	case <-n.done:
		return
	default:
	}
	_ = n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.done:
		if n.err != nil {
			n.t.Errorf("%s exited with %v after SIGINT", n.id, n.err)
		}
	case <-time.After(nodeStopTimeout):
		_ = n.cmd.Process.Kill()
		<-n.done
		n.t.Errorf("%s did not stop within %v of SIGINT", n.id, nodeStopTimeout)
	}
}

// crash kills the node (SIGKILL), as a power cut would, and waits for it.
func (n *assentNode) crash() {
	_ = n.cmd.Process.Kill()
	<-n.done
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// runAssent runs the binary to completion with env added, and returns its
// stdout; a non-zero exit fails the test.
func runAssent(t *testing.T, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, assentBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("assent %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// newThirdParty registers a third party holding every scope with
// `assent admin client create` (storeArgs choose the store) and returns it.
func newThirdParty(t *testing.T, env []string, storeArgs ...string) *thirdParty {
	t.Helper()
	args := append([]string{"admin", "client", "create", "--name", "Lab", "--scopes", "users:admin,records:write,records:access"}, storeArgs...)
	out := runAssent(t, env, args...)
	m := regexp.MustCompile(`(?m)^api_key: (assent_\S+)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("admin client create printed %q", out)
	}
	return &thirdParty{t: t, key: m[1], hc: &http.Client{Timeout: callTimeout}}
}

// thirdParty speaks the third-party API with an API key.
type thirdParty struct {
	t   *testing.T
	key string
	hc  *http.Client
}

// on returns p for use in test t (a subtest).
func (p *thirdParty) on(t *testing.T) *thirdParty {
	c := *p
	c.t = t
	return &c
}

// reply is an HTTP answer read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// want fails the test unless the status is status, and returns the body.
func (r reply) want(t *testing.T, status int) []byte {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r.body
}

// wantError fails the test unless the answer is the API error status/code.
func (r reply) wantError(t *testing.T, status int, code string) {
	t.Helper()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if r.status != status || json.Unmarshal(r.body, &e) != nil || e.Error.Code != code {
		t.Fatalf("got %d %s, want %d %s", r.status, r.body, status, code)
	}
}

// do sends method url with body (raw bytes as octet-stream, anything else
// as JSON, nil for none).
func (p *thirdParty) do(method, url string, body any) reply {
	p.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ct = bytes.NewReader(b), "application/octet-stream"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			p.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(data), "application/json"
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.key)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	return send(p.t, p.hc, req)
}

// send sends req and reads the whole answer.
func send(t *testing.T, hc *http.Client, req *http.Request) reply {
	t.Helper()
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading: %v", req.Method, req.URL, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

// call is do that expects status and decodes the JSON answer into out.
func (p *thirdParty) call(method, url string, body any, status int, out any) {
	p.t.Helper()
	data := p.do(method, url, body).want(p.t, status)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			p.t.Fatalf("%s %s: %v in %s", method, url, err, data)
		}
	}
}

// apiIDs are the ids and states the third-party API answers with.
type apiIDs struct {
	cliIDs
	DownloadsLeft int `json:"downloads_left"`
	Approval      *struct {
		DeviceID          string   `json:"device_id"`
		Statement         []byte   `json:"statement"`
		Signature         []byte   `json:"signature"`
		EvaluatedElements [][]byte `json:"evaluated_elements"`
		Proof             []byte   `json:"proof"`
	} `json:"approval"`
}

// newUser creates a user through node.
func (p *thirdParty) newUser(node string) apiIDs {
	var u apiIDs
	p.call(http.MethodPost, node+"/v1/users", map[string]string{"external_id": "ext-" + rand.Text(), "display_name": "Alice"}, http.StatusCreated, &u)
	return u
}

// upload creates a record of uid through node and uploads content there,
// so that node holds the request's secrets.
func (p *thirdParty) upload(node, uid string, content []byte) apiIDs {
	var r apiIDs
	p.call(http.MethodPost, node+"/v1/users/"+uid+"/records", map[string]string{"title": "Blood test", "content_type": "text/plain", "purpose": "results"}, http.StatusCreated, &r)
	var up apiIDs
	p.call(http.MethodPut, node+"/v1/records/"+r.RecordID+"/content", content, http.StatusAccepted, &up)
	if up.State != "pending_approval" || up.RequestID == "" {
		p.t.Fatalf("upload answered %+v", up)
	}
	up.RecordID = r.RecordID
	return up
}

// askAccess asks for access to rid through node, so that node holds the
// session's secrets.
func (p *thirdParty) askAccess(node, rid string) apiIDs {
	var a apiIDs
	p.call(http.MethodPost, node+"/v1/records/"+rid+"/access", map[string]string{"purpose": "second opinion"}, http.StatusAccepted, &a)
	if a.State != "pending_approval" || a.SessionID == "" || a.RequestID == "" {
		p.t.Fatalf("access answered %+v", a)
	}
	return a
}

// record reads record rid through node, long-polling while it waits for
// the device.
func (p *thirdParty) record(node, rid string) apiIDs {
	var r apiIDs
	p.call(http.MethodGet, node+"/v1/records/"+rid+"?wait=20", nil, http.StatusOK, &r)
	return r
}

// recordNow reads record rid through node without waiting.
func (p *thirdParty) recordNow(node, rid string) apiIDs {
	var r apiIDs
	p.call(http.MethodGet, node+"/v1/records/"+rid, nil, http.StatusOK, &r)
	return r
}

// session reads session sid through node, long-polling while it waits for
// the device.
func (p *thirdParty) session(node, sid string) apiIDs {
	var s apiIDs
	p.call(http.MethodGet, node+"/v1/sessions/"+sid+"?wait=20", nil, http.StatusOK, &s)
	return s
}

// recorder is the device's HTTP transport: it keeps every request it sent,
// so that a test can send one again byte for byte.
type recorder struct {
	mu   sync.Mutex
	sent []*sentRequest
}

// sentRequest is one request as the device sent it, and the status it got.
type sentRequest struct {
	method, target string
	header         http.Header
	body           []byte
	status         int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	s := &sentRequest{method: req.Method, target: req.URL.RequestURI(), header: req.Header.Clone(), body: body}
	if resp != nil {
		s.status = resp.StatusCode
	}
	r.mu.Lock()
	r.sent = append(r.sent, s)
	r.mu.Unlock()
	return resp, err
}

// last returns the last request sent to target.
func (r *recorder) last(t *testing.T, method, target string) *sentRequest {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.sent) - 1; i >= 0; i-- {
		if s := r.sent[i]; s.method == method && s.target == target {
			return s
		}
	}
	t.Fatalf("the device sent no %s %s", method, target)
	return nil
}

// replay sends s again, unchanged (headers, nonce, signature, body), to the
// node at url.
func (s *sentRequest) replay(t *testing.T, url string) reply {
	t.Helper()
	req, err := http.NewRequest(s.method, url+s.target, bytes.NewReader(s.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = s.header.Clone()
	return send(t, &http.Client{Timeout: callTimeout}, req)
}

// phone is an enrolled device: its identity, a ledger, and an agent per
// node it talks to, all recording what they send.
type phone struct {
	t      *testing.T
	id     *device.Identity
	ledger *device.Ledger
	rec    *recorder
}

// enroll enrolls a device with code through node.
func enroll(t *testing.T, node, code string) *phone {
	t.Helper()
	ph := &phone{t: t, rec: &recorder{}}
	c := ph.client(node, nil)
	id, err := c.Enroll(t.Context(), code, device.EnrollOptions{Name: "phone"})
	if err != nil {
		t.Fatalf("enroll: %v", err)
	}
	t.Cleanup(id.Destroy)
	ph.id = id
	if ph.ledger, err = device.OpenLedger(filepath.Join(t.TempDir(), "device.ledger")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ph.ledger.Close() })
	return ph
}

// on returns ph for use in test t (a subtest).
func (ph *phone) on(t *testing.T) *phone {
	c := *ph
	c.t = t
	return &c
}

// client returns a device client of node acting as id.
func (ph *phone) client(node string, id *device.Identity) *device.Client {
	ph.t.Helper()
	c, err := device.NewClient(node, id, device.ClientOptions{Transport: device.HTTPTransport(&http.Client{Transport: ph.rec}), RequestTimeout: callTimeout})
	if err != nil {
		ph.t.Fatal(err)
	}
	return c
}

// handle has the device agent fetch request reqID from node, approve it
// (the device's own checks apply) and post the answer to node. It returns
// the answer exactly as sent.
func (ph *phone) handle(node, reqID string) *sentRequest {
	ph.t.Helper()
	approve := func(context.Context, *device.Prompt) (device.Decision, error) { return device.Approve, nil }
	a, err := device.NewAgent(ph.client(node, ph.id), ph.ledger, approve, device.AgentOptions{})
	if err != nil {
		ph.t.Fatal(err)
	}
	res, err := a.Handle(ph.t.Context(), reqID)
	if err != nil {
		ph.t.Fatalf("device handling %s on %s: %v", reqID, node, err)
	}
	if res.State != threshold.DecisionApprove+"d" || res.Decision != device.Approve {
		ph.t.Fatalf("device result %+v", res)
	}
	sent := ph.rec.last(ph.t, http.MethodPost, "/v1/device/requests/"+reqID+"/response")
	if sent.status != http.StatusOK {
		ph.t.Fatalf("answer posted to %s got %d", node, sent.status)
	}
	return sent
}

// answer builds the device's answer to reqID by hand, as the agent would
// (statement signed, POPRF evaluated with info built from the ids), without
// the ledger, so that a test can post it more than once.
func (ph *phone) answer(node, reqID, decision string) *device.Response {
	ph.t.Helper()
	req, err := ph.client(node, ph.id).GetRequest(ph.t.Context(), reqID)
	if err != nil {
		ph.t.Fatal(err)
	}
	if err := device.CheckRequest(ph.id, req, time.Now(), device.DefaultMaxLifetime); err != nil {
		ph.t.Fatalf("request %s fails the device's checks: %v", reqID, err)
	}
	st := threshold.Statement{RequestID: req.RequestID, Kind: req.Kind, UserID: req.UserID, RecordID: req.RecordID,
		Decision: decision, RequesterID: req.Requester.ID, Purpose: req.Purpose,
		BlindedElements: req.BlindedElements, ExpiresAt: req.ExpiresAt}
	if req.Kind == threshold.KindCreate {
		st.ContentSHA256 = req.Record.ContentSHA256
	}
	msg, err := st.Marshal()
	if err != nil {
		ph.t.Fatal(err)
	}
	resp := &device.Response{Decision: decision, Signature: threshold.Sign(ph.id.SigningKey, msg)}
	if decision == threshold.DecisionApprove {
		info, err := threshold.RecordInfo(req.UserID, req.RecordID)
		if err != nil {
			ph.t.Fatal(err)
		}
		if resp.EvaluatedElements, resp.Proof, err = ph.id.OPRFKey.EvaluatePOPRF(rand.Reader, req.BlindedElements, info); err != nil {
			ph.t.Fatal(err)
		}
	}
	return resp
}

// respond posts resp to reqID through node with a fresh signature (new
// nonce and timestamp), and returns the state or the API error code, and
// the status.
func (ph *phone) respond(node, reqID string, resp *device.Response) (string, int) {
	ph.t.Helper()
	state, status, err := respond(ph.client(node, ph.id), reqID, resp)
	if err != nil {
		ph.t.Fatalf("respond through %s: %v", node, err)
	}
	return state, status
}

// respond is phone.respond on client c, for any goroutine: an error is
// one that is no API answer.
func respond(c *device.Client, reqID string, resp *device.Response) (string, int, error) {
	state, err := c.Respond(context.Background(), reqID, resp)
	var ae *device.APIError
	switch {
	case err == nil:
		return state, http.StatusOK, nil
	case errors.As(err, &ae):
		return ae.Code, ae.Status, nil
	}
	return "", 0, err
}

// events fetches and verifies the user's audit chain through node, and
// counts its entries by "event subject".
func (ph *phone) events(node string) map[string]int {
	ph.t.Helper()
	entries, err := ph.client(node, ph.id).Audit(ph.t.Context())
	if err != nil {
		ph.t.Fatalf("audit through %s: %v", node, err)
	}
	n := map[string]int{}
	for _, e := range entries {
		n[e.Event+" "+e.Subject]++
	}
	return n
}

// wantEvents fails the test unless the audit chain, read through each
// node, holds exactly want[k] entries of each "event subject" k.
func (ph *phone) wantEvents(want map[string]int, nodes ...string) {
	ph.t.Helper()
	for _, node := range nodes {
		got := ph.events(node)
		for k, n := range want {
			if got[k] != n {
				ph.t.Errorf("audit through %s: %d × %q, want %d", node, got[k], k, n)
			}
		}
	}
}

// sealedOnce is the audit of a record rid sealed once by request reqID.
func sealedOnce(rid, reqID string) map[string]int {
	return map[string]int{
		store.EventApproved + " " + reqID:     1,
		store.EventDenied + " " + reqID:       0,
		store.EventRecordSealed + " " + rid:   1,
		store.EventRecordExpired + " " + rid:  0,
		store.EventRecordRejected + " " + rid: 0,
	}
}

// openedOnce is the audit of a session sid opened once by request reqID.
func openedOnce(sid, reqID string) map[string]int {
	return map[string]int{
		store.EventApproved + " " + reqID:     1,
		store.EventSessionOpened + " " + sid:  1,
		store.EventSessionExpired + " " + sid: 0,
		store.EventSessionDenied + " " + sid:  0,
	}
}

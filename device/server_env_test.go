package device_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/node"
	"github.com/assent-dev/assent/internal/nodetest"
	"github.com/assent-dev/assent/internal/syncbuf"
	"github.com/assent-dev/assent/server"
)

// serverEnv is the real Assent server on loopback over SQLite, a blob
// directory and a master key (internal/nodetest), with three third parties:
// what the device talks to in these tests.
type serverEnv struct {
	t    *testing.T
	ctx  context.Context
	cfg  server.Config
	node *nodetest.Node
	logs *lockedBuffer

	admin, lab, clinic *nodetest.ThirdParty
}

// lockedBuffer collects output that many goroutines write while the test reads it.
type lockedBuffer = syncbuf.Buffer

func newServerEnv(t *testing.T, mutate func(*server.Config)) *serverEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	e := &serverEnv{t: t, ctx: ctx, logs: &lockedBuffer{}, cfg: server.Config{
		Listen:             "127.0.0.1:0",
		DataDir:            dir,
		BlobDir:            filepath.Join(dir, "blobs"),
		MasterKeyPath:      filepath.Join(dir, "master.key"),
		ApprovalTTL:        10 * time.Minute,
		SweepInterval:      200 * time.Millisecond,
		AnswerPollInterval: 20 * time.Millisecond,
		UserRate:           -1,
		RequesterRate:      -1,
		ShutdownTimeout:    5 * time.Second,
	}}
	if mutate != nil {
		mutate(&e.cfg)
	}
	e.start()
	t.Cleanup(func() {
		e.stop()
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	var err error
	if e.admin, err = nodetest.NewThirdParty(ctx, e.node, "Admin", server.ScopeUsersAdmin); err != nil {
		t.Fatal(err)
	}
	if e.lab, err = nodetest.NewThirdParty(ctx, e.node, "Lab", server.ScopeRecordsWrite); err != nil {
		t.Fatal(err)
	}
	if e.clinic, err = nodetest.NewThirdParty(ctx, e.node, "Clinic", server.ScopeRecordsAccess); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *serverEnv) start() {
	e.t.Helper()
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if e.cfg.PushAllowLoopback {
		// A test of Web Push: the node sends it, to loopback push services.
		n, err := node.Open(e.ctx, e.cfg, node.Options{Logger: log, WebPush: true})
		if err != nil {
			e.t.Fatal(err)
		}
		if err := n.Start(e.ctx); err != nil {
			e.t.Fatal(errors.Join(err, n.Close()))
		}
		e.node = &nodetest.Node{Node: n}
		e.cfg.Listen = n.Config.Listen
		return
	}
	n, err := nodetest.StartNode(e.cfg, log)
	if err != nil {
		e.t.Fatal(err)
	}
	e.node = n
	e.cfg.Listen = n.Config.Listen // a restart serves on the same address
}

func (e *serverEnv) stop() {
	if e.node != nil {
		if err := e.node.Stop(); err != nil {
			e.t.Errorf("stopping the server: %v", err)
		}
		e.node = nil
	}
}

func (e *serverEnv) restart() {
	e.t.Helper()
	e.stop()
	e.start()
}

func (e *serverEnv) url() string { return e.node.URL }

// newUser creates a user and returns its id and enrollment code.
func (e *serverEnv) newUser() (uid, code string) {
	e.t.Helper()
	ext, _ := ids.New("ext", rand.Reader)
	u, err := e.admin.CreateUser(e.ctx, ext, "Alice")
	if err != nil {
		e.t.Fatal(err)
	}
	return u.UserID, u.EnrollmentCode
}

// enroll enrolls a new device for a new user, through the device library.
func (e *serverEnv) enroll() *device.Identity {
	e.t.Helper()
	_, code := e.newUser()
	c, err := device.NewClient(e.url(), nil, device.ClientOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	id, err := c.Enroll(e.ctx, code, device.EnrollOptions{Name: "test phone"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(id.Destroy)
	return id
}

// createRecord creates a record for uid and uploads content; the record then
// waits for the device.
func (e *serverEnv) createRecord(uid, title string, content []byte) *nodetest.Pending {
	e.t.Helper()
	rid, err := e.lab.CreateRecord(e.ctx, uid, title, "text/plain", "lab results")
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.lab.Upload(e.ctx, rid, bytes.NewReader(content), int64(len(content)))
	if err != nil {
		e.t.Fatal(err)
	}
	p.RecordID = rid
	return p
}

// requestAccess asks to open a record for the clinic.
func (e *serverEnv) requestAccess(rid, purpose string) *nodetest.Pending {
	e.t.Helper()
	p, err := e.clinic.Access(e.ctx, rid, purpose)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// waitRecord waits until the record leaves pending_approval.
func (e *serverEnv) waitRecord(rid string) *nodetest.Record {
	e.t.Helper()
	r, err := e.lab.AwaitRecord(e.ctx, rid)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *serverEnv) waitSession(sid string) string {
	e.t.Helper()
	s, err := e.clinic.AwaitSession(e.ctx, sid)
	if err != nil {
		e.t.Fatal(err)
	}
	return s.State
}

// client returns a device client of the server acting as id.
func (e *serverEnv) client(id *device.Identity, o device.ClientOptions) *device.Client {
	e.t.Helper()
	c, err := device.NewClient(e.url(), id, o)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// openLedger opens the ledger at path (a new one if path is empty).
func openLedger(t *testing.T, path string) *device.Ledger {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "device.ledger")
	}
	l, err := device.OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// newAgent makes an agent for id with a new ledger (or the one at path)
// and policy, and returns it with its client and ledger.
func (e *serverEnv) newAgent(id *device.Identity, ledgerPath string, policy device.Policy, o device.AgentOptions) (*device.Agent, *device.Client, *device.Ledger) {
	e.t.Helper()
	l := openLedger(e.t, ledgerPath)
	c := e.client(id, device.ClientOptions{})
	if o.MinBackoff == 0 {
		o.MinBackoff, o.MaxBackoff = 20*time.Millisecond, 200*time.Millisecond
	}
	a, err := device.NewAgent(c, l, policy, o)
	if err != nil {
		e.t.Fatal(err)
	}
	return a, c, l
}

// prompts is a policy that records what it was shown and answers with
// decide.
type prompts struct {
	mu     sync.Mutex
	seen   []*device.Prompt
	decide func(*device.Prompt) device.Decision
}

func (p *prompts) policy(_ context.Context, pr *device.Prompt) (device.Decision, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, pr)
	return p.decide(pr), nil
}

func (p *prompts) last() *device.Prompt {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.seen) == 0 {
		return nil
	}
	return p.seen[len(p.seen)-1]
}

func (p *prompts) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.seen)
}

func approveAll(*device.Prompt) device.Decision { return device.Approve }

func denyAll(*device.Prompt) device.Decision { return device.Deny }

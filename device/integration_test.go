package device_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/nodetest"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/sqlite"
	"github.com/assent-dev/assent/threshold"
)

func TestEnrollRealServer(t *testing.T) {
	e := newServerEnv(t, nil)
	_, code := e.newUser()
	c, err := device.NewClient(e.url(), nil, device.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ksPath := filepath.Join(t.TempDir(), "device.key")
	var savedBeforeConfirm bool
	id, err := c.Enroll(context.Background(), code, device.EnrollOptions{Name: "phone", Save: func(id *device.Identity) error {
		// The device is still pending when the keys are stored.
		cl, err := device.NewClient(e.url(), id, device.ClientOptions{})
		if err != nil {
			return err
		}
		_, perr := cl.PendingRequests(context.Background())
		var ae *device.APIError
		savedBeforeConfirm = errors.As(perr, &ae) && ae.Status == http.StatusUnauthorized
		return device.CreateKeystore(ksPath, []byte("pw"), id, rand.Reader, device.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1})
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer id.Destroy()
	if !savedBeforeConfirm {
		t.Error("Save was not called while the device was still pending")
	}
	stored, err := device.OpenKeystore(ksPath, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if stored.DeviceID != id.DeviceID || stored.ServerURL != e.url() || stored.DeviceKeyID != threshold.DeviceKeyID(id.OPRFKey.Public().Bytes()) {
		t.Errorf("stored identity %+v", stored)
	}

	// Active now: signed calls pass the server's check of the headers.
	active, _ := device.NewClient(e.url(), stored, device.ClientOptions{})
	if reqs, err := active.PendingRequests(context.Background()); err != nil || len(reqs) != 0 {
		t.Errorf("pending requests of a new device: %v, %v", reqs, err)
	}

	// The code is single use; an unknown one is a bad credential.
	for _, c2 := range []struct {
		code   string
		status int
	}{{code, http.StatusGone}, {"AAAAA-BBBBB-CCCCC-DDDDD", http.StatusUnauthorized}} {
		_, err := c.Enroll(context.Background(), c2.code, device.EnrollOptions{Name: "again"})
		var ae *device.APIError
		if !errors.As(err, &ae) || ae.Status != c2.status {
			t.Errorf("enroll with code %q: got %v, want status %d", c2.code, err, c2.status)
		}
		if err != nil && strings.Contains(err.Error(), code) {
			t.Error("an error repeats the enrollment code")
		}
	}

	// A device that signs with another key is refused.
	forged := *stored
	_, forged.SigningKey, _ = ed25519.GenerateKey(rand.Reader)
	fc, _ := device.NewClient(e.url(), &forged, device.ClientOptions{})
	var ae *device.APIError
	if _, err := fc.PendingRequests(context.Background()); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Errorf("call signed with another key: got %v, want 401", err)
	}
	// So is a device whose clock is off by more than a minute.
	skewed, _ := device.NewClient(e.url(), stored, device.ClientOptions{Now: func() time.Time { return time.Now().Add(-2 * time.Minute) }})
	if _, err := skewed.PendingRequests(context.Background()); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Errorf("call with a skewed clock: got %v, want 401", err)
	}
}

// TestSealAndOpen is the whole life of a record as the device sees it:
// approve its creation, then approve an access, shown from the ledger.
func TestSealAndOpen(t *testing.T) {
	e := newServerEnv(t, nil)
	id := e.enroll()
	p := &prompts{decide: approveAll}
	agent, client, ledger := e.newAgent(id, "", p.policy, device.AgentOptions{})
	ctx := context.Background()

	content := []byte("haemoglobin 14.1 g/dL\n")
	up := e.createRecord(id.UserID, "Blood test", content)
	if err := agent.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	pr := p.last()
	if pr == nil || pr.Kind != threshold.KindCreate || pr.RecordID != up.RecordID || pr.Record.Title != "Blood test" ||
		pr.Record.Size != int64(len(content)) || pr.Requester.Name != "Lab" || pr.Purpose != "lab results" {
		t.Fatalf("create prompt: %+v", pr)
	}
	sum := sha256.Sum256(content)
	if !bytes.Equal(pr.Record.ContentSHA256, sum[:]) {
		t.Error("the prompt's digest is not the content's")
	}
	rec := e.waitRecord(up.RecordID)
	if rec.State != store.RecordSealed || rec.Approval == nil {
		t.Fatalf("record after approval: %+v", rec)
	}
	// Anyone with the device's public key can check what was approved, and
	// it is what the ledger says the device signed.
	if err := threshold.Verify(id.SigningPublicKey(), rec.Approval.Statement, rec.Approval.Signature); err != nil {
		t.Errorf("approval signature: %v", err)
	}
	ans, out, ok := ledger.Answer(up.RequestID)
	stmtSum := sha256.Sum256(rec.Approval.Statement)
	if !ok || out == nil || out.State != store.RequestApproved || !bytes.Equal(ans.StatementSHA256, stmtSum[:]) {
		t.Errorf("ledger after the create: %+v %+v %v", ans, out, ok)
	}

	acc := e.requestAccess(up.RecordID, "second opinion")
	if err := agent.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	pr = p.last()
	if pr.Kind != threshold.KindAccess || pr.UnknownToLedger || pr.Mismatch || pr.Record.Title != "Blood test" ||
		!bytes.Equal(pr.Record.ContentSHA256, sum[:]) || pr.Requester.Name != "Clinic" || pr.Purpose != "second opinion" {
		t.Fatalf("access prompt: %+v", pr)
	}
	if st := e.waitSession(acc.SessionID); st != store.SessionOpen {
		t.Fatalf("session after approval: %s", st)
	}
	var got bytes.Buffer
	if _, err := e.clinic.Download(ctx, acc.SessionID, &got); err != nil || !bytes.Equal(got.Bytes(), content) {
		t.Errorf("content: %q, %v", got.Bytes(), err)
	}

	// The user's audit chain verifies on the device and holds both approvals.
	entries, err := client.Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	approvals := 0
	for _, en := range entries {
		if en.Event == store.EventApproved && en.Actor == id.DeviceID {
			approvals++
		}
	}
	if approvals != 2 {
		t.Errorf("audit chain has %d approvals by the device, want 2", approvals)
	}
	// Nothing is pending any more, and nothing is asked again.
	if err := agent.Sync(ctx); err != nil || p.count() != 2 {
		t.Errorf("second sync: %v, %d prompts", err, p.count())
	}
}

func TestDenyRealServer(t *testing.T) {
	e := newServerEnv(t, nil)
	id := e.enroll()
	p := &prompts{decide: denyAll}
	agent, _, ledger := e.newAgent(id, "", p.policy, device.AgentOptions{})
	up := e.createRecord(id.UserID, "Unwanted", []byte("x"))
	if err := agent.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rec := e.waitRecord(up.RecordID); rec.State != store.RecordRejected {
		t.Errorf("record after a deny: %s", rec.State)
	}
	ans, out, ok := ledger.Answer(up.RequestID)
	if !ok || ans.Decision != threshold.DecisionDeny || ans.Response.Proof != nil || out.State != store.RequestDenied {
		t.Errorf("ledger after a deny: %+v %+v", ans, out)
	}
	// A denied record is not one the ledger vouches for.
	if _, known := ledger.Record(up.RecordID); known {
		t.Error("a denied record is known to the ledger")
	}
}

// TestAccessUnknownToLedger: a device whose ledger never saw the record's
// creation says so, and shows the server's description only as such.
func TestAccessUnknownToLedger(t *testing.T) {
	e := newServerEnv(t, nil)
	id := e.enroll()
	first, _, _ := e.newAgent(id, "", (&prompts{decide: approveAll}).policy, device.AgentOptions{})
	up := e.createRecord(id.UserID, "X-ray", []byte("image"))
	if err := first.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.waitRecord(up.RecordID)

	p := &prompts{decide: denyAll}
	fresh, _, _ := e.newAgent(id, "", p.policy, device.AgentOptions{})
	acc := e.requestAccess(up.RecordID, "curiosity")
	if err := fresh.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	pr := p.last()
	if pr == nil || !pr.UnknownToLedger || pr.Record.Title != "" || pr.ServerRecord.Title != "X-ray" {
		t.Fatalf("prompt for a record unknown to the ledger: %+v", pr)
	}
	var out bytes.Buffer
	device.WritePrompt(&out, pr, time.Now())
	if !strings.Contains(out.String(), "NOT IN LEDGER") {
		t.Errorf("the prompt text does not say plainly the record is unknown:\n%s", out.String())
	}
	if st := e.waitSession(acc.SessionID); st != store.SessionDenied {
		t.Errorf("session after deny: %s", st)
	}
}

// TestRunStreamsAndReconnects runs the agent: a request made before it
// starts is found by the listing on connect, one made while it listens
// comes by the event stream, and after the server restarts the agent
// reconnects by itself and goes on.
func TestRunStreamsAndReconnects(t *testing.T) {
	e := newServerEnv(t, nil)
	id := e.enroll()
	before := e.createRecord(id.UserID, "Before", []byte("1"))

	notices := make(chan device.Notice, 64)
	agent, _, _ := e.newAgent(id, "", (&prompts{decide: approveAll}).policy, device.AgentOptions{
		PollInterval: time.Hour, // only the stream and the listing on connect
		Notify:       func(n device.Notice) { notices <- n },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	}()

	waitNotice := func(kind, requestID string) device.Notice {
		t.Helper()
		timeout := time.After(15 * time.Second)
		for {
			select {
			case n := <-notices:
				if n.Kind == kind && (requestID == "" || n.RequestID == requestID) {
					return n
				}
				if n.Kind == device.NoticeRefused || (n.Kind == device.NoticeError && n.RequestID != "") {
					t.Fatalf("unexpected notice %+v", n)
				}
			case <-timeout:
				t.Fatalf("no %s notice for %q", kind, requestID)
			}
		}
	}
	waitNotice(device.NoticeConnected, "")
	if n := waitNotice(device.NoticeAnswered, before.RequestID); n.Result.State != store.RequestApproved {
		t.Errorf("request made before Run: %+v", n.Result)
	}
	during := e.createRecord(id.UserID, "During", []byte("2"))
	waitNotice(device.NoticeAnswered, during.RequestID)

	e.restart()
	waitNotice(device.NoticeDisconnected, "")
	waitNotice(device.NoticeConnected, "")
	after := e.createRecord(id.UserID, "After", []byte("3"))
	waitNotice(device.NoticeAnswered, after.RequestID)
	for _, up := range []*nodetest.Pending{before, during, after} {
		if rec := e.waitRecord(up.RecordID); rec.State != store.RecordSealed {
			t.Errorf("record %s: %s", up.RecordID, rec.State)
		}
	}
}

// failingPosts loses every answer on its way to the server, as a dropped
// connection would.
type failingPosts struct{ lost atomic.Int32 }

func (f *failingPosts) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/response") {
		f.lost.Add(1)
		return nil, errors.New("connection reset by peer (test)")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestCrashBeforeOutcome: an answer recorded in the ledger whose post never
// arrived is posted again, byte for byte, by the next run; it is never
// computed anew, and after the server took it nothing is answered again.
func TestCrashBeforeOutcome(t *testing.T) {
	e := newServerEnv(t, nil)
	id := e.enroll()
	ledgerPath := filepath.Join(t.TempDir(), "device.ledger")
	up := e.createRecord(id.UserID, "Scan", []byte("scan"))

	lossy := &failingPosts{}
	l1 := openLedger(t, ledgerPath)
	c1, _ := device.NewClient(e.url(), id, device.ClientOptions{Transport: device.HTTPTransport(&http.Client{Transport: lossy})})
	p := &prompts{decide: approveAll}
	a1, err := device.NewAgent(c1, l1, p.policy, device.AgentOptions{MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	_, err = a1.Handle(ctx, up.RequestID)
	cancel()
	if err == nil || lossy.lost.Load() < 2 {
		t.Fatalf("lossy post: %v after %d attempts (want an error after retries)", err, lossy.lost.Load())
	}
	first, out, ok := l1.Answer(up.RequestID)
	if !ok || out != nil {
		t.Fatalf("ledger after the lost post: %v, outcome %+v", ok, out)
	}
	l1.Close() // the "crash"

	evaluated := 0
	a2, c2, _ := e.newAgent(id, ledgerPath, p.policy, device.AgentOptions{})
	device.SetEvaluate(a2, func(r io.Reader, b [][]byte, info []byte) ([][]byte, []byte, error) {
		evaluated++
		return id.OPRFKey.EvaluatePOPRF(r, b, info)
	})
	reqs, err := c2.PendingRequests(context.Background())
	if err != nil || len(reqs) != 1 {
		t.Fatalf("pending after the crash: %d, %v", len(reqs), err)
	}
	res, err := a2.HandleRequest(context.Background(), reqs[0])
	if err != nil || !res.Reposted || res.State != store.RequestApproved {
		t.Fatalf("repost: %+v, %v", res, err)
	}
	if evaluated != 0 || p.count() != 1 {
		t.Errorf("the repost evaluated %d times and asked %d times; want 0 and 1", evaluated, p.count())
	}
	if rec := e.waitRecord(up.RecordID); rec.State != store.RecordSealed ||
		!bytes.Equal(sha256Of(rec.Approval.Statement), first.StatementSHA256) {
		t.Errorf("record after the repost: %+v", rec)
	}
	if _, err := a2.HandleRequest(context.Background(), reqs[0]); !errors.Is(err, device.ErrAnswered) {
		t.Errorf("handling the request a third time: %v", err)
	}
	entries, _ := device.ReadLedger(ledgerPath)
	answers := 0
	for _, en := range entries {
		if en.Type == device.EntryAnswer {
			answers++
		}
	}
	if answers != 1 {
		t.Errorf("%d answer lines for one request", answers)
	}
}

func sha256Of(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// TestRefusedAnswerNeverRetried: when the server refuses an answer (here a
// proof made with another key: 400 bad_proof, the request stays pending),
// the device never answers that request again, even after a restart.
func TestRefusedAnswerNeverRetried(t *testing.T) {
	e := newServerEnv(t, nil)
	id := e.enroll()
	ledgerPath := filepath.Join(t.TempDir(), "device.ledger")
	up := e.createRecord(id.UserID, "Scan", []byte("scan"))

	wrong, _ := oprf.GenerateKey(rand.Reader)
	a1, _, l1 := e.newAgent(id, ledgerPath, (&prompts{decide: approveAll}).policy, device.AgentOptions{})
	device.SetEvaluate(a1, wrong.EvaluatePOPRF)
	_, err := a1.Handle(context.Background(), up.RequestID)
	var ae *device.APIError
	if !errors.As(err, &ae) || ae.Code != "bad_proof" {
		t.Fatalf("answer with a wrong proof: %v", err)
	}
	if _, out, _ := l1.Answer(up.RequestID); out == nil || out.Outcome != device.OutcomeRejected || out.Error != "bad_proof" {
		t.Errorf("outcome in the ledger: %+v", out)
	}
	l1.Close()

	p := &prompts{decide: approveAll}
	a2, c2, _ := e.newAgent(id, ledgerPath, p.policy, device.AgentOptions{})
	if err := a2.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := a2.Handle(context.Background(), up.RequestID); !errors.Is(err, device.ErrAnswered) {
		t.Errorf("Handle after restart: %v, want device.ErrAnswered", err)
	}
	if p.count() != 0 {
		t.Error("the policy was asked again about an answered request")
	}
	reqs, _ := c2.PendingRequests(context.Background())
	if len(reqs) != 1 {
		t.Errorf("the request should still be pending on the server, untouched: %d pending", len(reqs))
	}
}

// TestConcurrentHandle: many handlers of one request, one answer.
func TestConcurrentHandle(t *testing.T) {
	e := newServerEnv(t, nil)
	id := e.enroll()
	up := e.createRecord(id.UserID, "Race", []byte("race"))
	p := &prompts{decide: approveAll}
	agent, client, ledger := e.newAgent(id, "", p.policy, device.AgentOptions{})
	req, err := client.GetRequest(context.Background(), up.RequestID)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var ok, answered, busy atomic.Int32
	for range 8 {
		wg.Go(func() {
			_, err := agent.HandleRequest(context.Background(), req)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, device.ErrAnswered):
				answered.Add(1)
			case errors.Is(err, device.ErrBusy):
				busy.Add(1)
			default:
				t.Errorf("unexpected %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || p.count() != 1 || answered.Load()+busy.Load() != 7 {
		t.Errorf("%d answered, %d prompts, %d already answered, %d busy", ok.Load(), p.count(), answered.Load(), busy.Load())
	}
	if _, out, found := ledger.Answer(up.RequestID); !found || out == nil || out.Outcome != device.OutcomeAccepted {
		t.Errorf("ledger: %+v", out)
	}
}

// TestBurstAutoDeny: past MaxPerMinute requests in a minute, the device
// denies without asking.
func TestBurstAutoDeny(t *testing.T) {
	e := newServerEnv(t, nil)
	id := e.enroll()
	p := &prompts{decide: approveAll}
	agent, _, ledger := e.newAgent(id, "", p.policy, device.AgentOptions{MaxPerMinute: 2})
	var ups []*nodetest.Pending
	for _, title := range []string{"a", "b", "c", "d"} {
		ups = append(ups, e.createRecord(id.UserID, title, []byte(title)))
	}
	if err := agent.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p.count() != 2 {
		t.Errorf("policy asked %d times, want 2", p.count())
	}
	want := []string{store.RecordSealed, store.RecordSealed, store.RecordRejected, store.RecordRejected}
	for i, up := range ups {
		if rec := e.waitRecord(up.RecordID); rec.State != want[i] {
			t.Errorf("record %d: %s, want %s", i, rec.State, want[i])
		}
		if ans, _, _ := ledger.Answer(up.RequestID); i >= 2 && (ans == nil || ans.DecidedBy != device.DecidedByRateLimit) {
			t.Errorf("record %d: ledger answer %+v, want decided by the rate limit", i, ans)
		}
	}
}

// TestPolicyOutlivedByRequest: a request that expires while the user
// thinks is not answered.
func TestPolicyOutlivedByRequest(t *testing.T) {
	e := newServerEnv(t, func(c *server.Config) { c.ApprovalTTL = 2 * time.Second })
	id := e.enroll()
	slow := func(ctx context.Context, _ *device.Prompt) (device.Decision, error) {
		<-ctx.Done()
		return "", ctx.Err()
	}
	agent, _, ledger := e.newAgent(id, "", slow, device.AgentOptions{})
	up := e.createRecord(id.UserID, "Late", []byte("late"))
	if _, err := agent.Handle(context.Background(), up.RequestID); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Handle with a policy outlived by the request: %v", err)
	}
	if _, _, ok := ledger.Answer(up.RequestID); ok {
		t.Error("an unanswered request is in the ledger")
	}
	if rec := e.waitRecord(up.RecordID); rec.State != store.RecordExpired {
		t.Errorf("record: %s, want expired", rec.State)
	}
}

// TestAuditTamperDetected edits the server's audit chain in its database;
// the device notices.
func TestAuditTamperDetected(t *testing.T) {
	e := newServerEnv(t, nil)
	id := e.enroll()
	agent, client, _ := e.newAgent(id, "", (&prompts{decide: approveAll}).policy, device.AgentOptions{})
	e.createRecord(id.UserID, "Audited", []byte("a"))
	if err := agent.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, err := client.Audit(context.Background())
	if err != nil || len(entries) < 3 {
		t.Fatalf("audit: %d entries, %v", len(entries), err)
	}
	db, err := sql.Open("sqlite", filepath.Join(e.cfg.DataDir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit SET actor = 'cli_forged' WHERE user_id = ? AND seq = 2`, id.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Audit(context.Background()); !errors.Is(err, store.ErrChainBroken) || !errors.Is(err, device.ErrProtocol) {
		t.Errorf("audit of an edited chain: %v", err)
	}
	if _, err := db.Exec(`DELETE FROM audit WHERE user_id = ? AND seq = 2`, id.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Audit(context.Background()); !errors.Is(err, device.ErrProtocol) {
		t.Errorf("audit of a chain with a hole: %v", err)
	}
}

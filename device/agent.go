package device

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/assent-dev/assent/threshold"
)

// Decision is a policy's answer to a request.
type Decision string

// The two decisions.
const (
	Approve Decision = threshold.DecisionApprove
	Deny    Decision = threshold.DecisionDeny
)

// Prompt is what the user (or a Policy acting for the user) is asked about
// one request that passed every check.
type Prompt struct {
	RequestID string
	Kind      string // threshold.KindCreate or threshold.KindAccess
	UserID    string
	RecordID  string
	Requester Requester // as the server names it
	Purpose   string
	// Record is, for a create, the record as the request describes it (what
	// the approval seals: its digest is signed). For an access it is the
	// record as the device's ledger describes it, and the zero value when
	// UnknownToLedger.
	Record RecordView
	// UnknownToLedger is set for an access to a record whose creation this
	// device never approved (another device did, or the ledger was lost, or
	// the server is lying): nothing but the server vouches for what it is.
	UnknownToLedger bool
	// Mismatch is set for an access when the server describes the record
	// differently from the ledger (title, content type, size or digest).
	Mismatch bool
	// KnownFromChain is set for an access to a record the ledger does not
	// hold but whose creation the user's audit chain shows approved by this
	// device or by a device it verified (the last VerifyHistory); its
	// digest is then compared with the server's (Mismatch).
	KnownFromChain *ChainRecord
	// ServerRecord is the record as the server describes it, untrusted.
	ServerRecord RecordView
	ExpiresAt    time.Time
	// RequireMatch is set when the device requires number matching
	// (AgentOptions.RequireMatch): to approve, the policy asks the user to
	// type the two digits the requester shows and puts them in MatchTyped.
	// The agent compares them with the code it computes itself; a policy
	// asking a person must never show that code (see MatchCode).
	RequireMatch bool
	// MatchTyped is what the user typed for the match code; the policy
	// sets it before it approves. It is ignored unless RequireMatch.
	MatchTyped string

	matchCode string
}

// MatchCode returns the request's match code as the device computes it
// (threshold.MatchCode of its id and blinded elements). It is for a policy
// that approves without a person (--auto-approve, tests); a policy that
// asks a person must ask for the code, never show it, or number matching
// protects nothing.
func (p *Prompt) MatchCode() string { return p.matchCode }

// Policy decides a request. It is called at most once per request, one
// request at a time, with a context that ends when the request expires. An
// error leaves the request unanswered (it expires on the server).
type Policy func(ctx context.Context, p *Prompt) (Decision, error)

// Result is what became of a request the agent answered.
type Result struct {
	RequestID string
	Decision  Decision
	DecidedBy string // DecidedByPolicy, DecidedByRateLimit or DecidedByMatch
	// State is the request's state on the server after the answer
	// ("approved" or "denied").
	State string
	// Reposted is set when the answer was the one already in the ledger,
	// posted again because its outcome had never been learned.
	Reposted bool
}

// Notice tells an observer what the agent is doing, for logs and for the
// terminal. Err never holds a secret.
type Notice struct {
	Kind      string // one of the Notice* constants
	RequestID string
	Result    *Result  // NoticeAnswered
	Finding   *Finding // NoticeFinding
	Err       error    // NoticeDisconnected, NoticeRefused, NoticeError, NoticeHistory
	Retry     time.Duration
	// AddDevice is set for NoticeAddDevice: the add_device request, checked,
	// that the agent left for the user.
	AddDevice *AddDevice
}

// Notice kinds.
const (
	NoticeConnected    = "connected"    // the event stream is open
	NoticeDisconnected = "disconnected" // the event stream ended; Retry says when the agent reconnects
	NoticeAnswered     = "answered"     // a request was answered
	NoticeRefused      = "refused"      // a request failed a check and was not answered
	NoticeError        = "error"        // handling a request failed; it may be tried again
	NoticeFinding      = "finding"      // the audit check found something (Finding); alerts and breakage
	NoticeHistory      = "history"      // the audit check failed (Err; ErrHistory: the history was rewritten)
	// NoticeAddDevice: an add_device request, which no policy answers (it
	// needs the pairing string and fresh user verification): left for the
	// user (AgentOptions.AddDevice, or `assent device add`).
	NoticeAddDevice = "add_device"
)

// AgentOptions tunes an Agent. The zero value of each field selects its
// default.
type AgentOptions struct {
	// MaxPerMinute is how many requests may reach the policy within any
	// minute; past it requests are denied without asking
	// (DecidedByRateLimit). 0 means no limit.
	MaxPerMinute int
	// MaxLifetime is the longest request lifetime accepted
	// (DefaultMaxLifetime).
	MaxLifetime time.Duration
	// Now is the device clock (time.Now).
	Now func() time.Time
	// Rand is the randomness of POPRF proofs (crypto/rand.Reader).
	Rand io.Reader
	// Notify, if set, is told what happens; it must not block for long.
	Notify func(Notice)
	// MinBackoff and MaxBackoff bound the wait before reconnecting the event
	// stream (1 s and 1 min); the wait doubles per failed attempt, with
	// jitter, and starts over after a connection succeeded.
	MinBackoff, MaxBackoff time.Duration
	// PollInterval is how often Run lists pending requests even when the
	// stream is up, in case a push was lost (5 min).
	PollInterval time.Duration
	// EventIdleTimeout is passed to Client.Events.
	EventIdleTimeout time.Duration
	// AuditInterval, when above 0, makes Run verify the user's audit chain
	// and pin its head (VerifyHistory, in the ledger's Storage) when it
	// starts and at this interval, telling each finding as NoticeFinding
	// and a failure as NoticeHistory. 0: Run leaves it to the caller.
	AuditInterval time.Duration
	// History tunes that check.
	History HistoryOptions
	// AddDevice, if set, is called once per add_device request that passed
	// CheckAddDevice, to ask the user (the pairing string, then fresh user
	// verification) and answer it; an error is told through Notify. Unset,
	// the agent only tells Notify (NoticeAddDevice). Policy never sees an
	// add_device request, so --auto-approve never approves one.
	AddDevice func(ctx context.Context, req *Request, add *AddDevice) (*Result, error)
	// RequireMatch requires number matching for every request (DESIGN.md
	// "Sealing a record", step 2): the Prompt asks the policy for the code
	// the requester shows (Prompt.RequireMatch, MatchTyped), and an approval
	// whose typed code is not the one the device computes from the
	// request's id and blinded elements is sent as a deny with reason
	// api.ReasonMatchFailed (DecidedByMatch), which the server audits.
	RequireMatch bool
}

// DecidedByMatch is the Entry.DecidedBy and Result.DecidedBy of a request
// denied because the user typed another match code than the request's.
const DecidedByMatch = "match_failed"

// Agent answers the requests of one enrolled device. It is safe for
// concurrent use; each request is handled by at most one call at a time,
// and answered at most once ever (the ledger keeps it so across restarts).
type Agent struct {
	client *Client
	id     *Identity
	ledger *Ledger
	policy Policy
	o      AgentOptions
	// evaluate is the device share's POPRF evaluation; a field so that tests
	// can observe that a refused request never reaches it.
	evaluate func(rand io.Reader, blinded [][]byte, info []byte) ([][]byte, []byte, error)

	mu       sync.Mutex
	inFlight map[string]bool
	refused  map[string]error // requests refused for good, not to be fetched again
	limiter  burstLimiter
	chain    map[string]*ChainRecord // approved creates of the last verified chain
}

// maxRefusedMemory bounds the memory of refused request ids.
const maxRefusedMemory = 4096

// NewAgent returns an agent answering with client's identity (the client
// must have one: ErrNotEnrolled), recording in ledger, deciding with policy.
func NewAgent(client *Client, ledger *Ledger, policy Policy, o AgentOptions) (*Agent, error) {
	if client == nil || client.id == nil {
		return nil, ErrNotEnrolled
	}
	if ledger == nil || policy == nil {
		return nil, errors.New("device: NewAgent needs a ledger and a policy")
	}
	if o.MaxPerMinute < 0 {
		return nil, errors.New("device: MaxPerMinute must not be negative")
	}
	if o.MaxLifetime <= 0 {
		o.MaxLifetime = DefaultMaxLifetime
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Notify == nil {
		o.Notify = func(Notice) {}
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(time.Minute, o.MinBackoff)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 5 * time.Minute
	}
	a := &Agent{client: client, id: client.id, ledger: ledger, policy: policy, o: o,
		inFlight: map[string]bool{}, refused: map[string]error{},
		limiter: burstLimiter{max: o.MaxPerMinute}}
	a.evaluate = a.id.OPRFKey.EvaluatePOPRF
	return a, nil
}

// Handle fetches request requestID from the server and handles it as
// HandleRequest does.
func (a *Agent) Handle(ctx context.Context, requestID string) (*Result, error) {
	a.mu.Lock()
	err := a.refused[requestID]
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if _, out, ok := a.ledger.Answer(requestID); ok && out != nil {
		return nil, fmt.Errorf("%w: %s", ErrAnswered, requestID)
	}
	req, err := a.client.GetRequest(ctx, requestID)
	if err != nil {
		return nil, err
	}
	return a.HandleRequest(ctx, req)
}

// HandleRequest handles one request as the server described it: if the
// ledger holds an answer to it, it never answers again (ErrAnswered), but
// posts the recorded answer once more if its outcome was never learned;
// otherwise it checks the request (CheckRequest, and for a create that the
// ledger does not hold the record), asks the policy (or denies past
// MaxPerMinute), with RequireMatch turns an approval whose typed match code
// is wrong into a deny (DecidedByMatch, reason api.ReasonMatchFailed), and
// answers: for an approval it evaluates the POPRF with
// info = threshold.RecordInfo(user_id, record_id) built here, signs the
// statement, records the answer in the ledger and only then posts it.
//
// Errors: ErrBusy if another call is handling the request; ErrRefused
// (nothing evaluated, signed or posted); ErrNotPending; the policy's error;
// ErrLedger (nothing posted); an *APIError or transport error from posting
// (the answer stays in the ledger; its outcome is recorded when the server
// gave one).
func (a *Agent) HandleRequest(ctx context.Context, req *Request) (*Result, error) {
	if !a.begin(req.RequestID) {
		return nil, fmt.Errorf("%w: %s", ErrBusy, req.RequestID)
	}
	defer a.end(req.RequestID)

	if ans, out, ok := a.ledger.Answer(req.RequestID); ok {
		if out != nil || req.State != RequestState {
			return nil, fmt.Errorf("%w: %s", ErrAnswered, req.RequestID)
		}
		res, err := a.post(ctx, ans)
		if res != nil {
			res.Reposted = true
		}
		return res, err
	}
	if req.Kind == threshold.KindAddDevice {
		return a.addDevice(ctx, req)
	}
	if err := a.check(req); err != nil {
		return nil, err
	}
	prompt := a.prompt(req)
	code, err := threshold.MatchCode(req.RequestID, req.BlindedElements)
	if err != nil {
		return nil, a.remember(req.RequestID, refuse(req, "%v", err))
	}
	prompt.RequireMatch, prompt.matchCode = a.o.RequireMatch, code
	decision, by := Deny, DecidedByRateLimit
	if a.allow() {
		if decision, err = a.ask(ctx, prompt); err != nil {
			return nil, err
		}
		by = DecidedByPolicy
		if decision == Approve && prompt.RequireMatch && !threshold.MatchCodeEqual(prompt.MatchTyped, prompt.matchCode) {
			decision, by = Deny, DecidedByMatch
		}
	}
	if !a.o.Now().Before(req.ExpiresAt) {
		return nil, a.remember(req.RequestID, refuse(req, "it expired while waiting for the decision"))
	}
	return a.answer(ctx, req, decision, by, prompt)
}

// VerifyHistory runs the package's VerifyHistory for the agent's device,
// with the ledger's storage and lines, and keeps the approved creates it
// found, so that a create of one of them is refused as not new and an
// access to one is shown as known from the chain. It takes them also from
// a chain refused for contradicting the ledger (its records are no less
// taken), but keeps the ones it had when the chain was not read through.
func (a *Agent) VerifyHistory(ctx context.Context) (*History, error) {
	h, err := VerifyHistory(ctx, a.client, a.ledger.Storage(), a.ledger.Entries(), a.o.History)
	if h != nil && (err == nil || len(h.Records) > 0) {
		a.mu.Lock()
		a.chain = h.Records
		a.mu.Unlock()
	}
	return h, err
}

// chainRecord returns the chain's approved create of recordID, if any.
func (a *Agent) chainRecord(recordID string) *ChainRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.chain[recordID]
}

// check runs CheckRequest and the ledger's check, remembering refusals.
func (a *Agent) check(req *Request) error {
	err := CheckRequest(a.id, req, a.o.Now(), a.o.MaxLifetime)
	if err == nil && req.Kind == threshold.KindCreate && a.ledger.HoldsRecord(req.RecordID) {
		err = refuse(req, "the ledger already holds record %s: an existing record cannot be sealed again", req.RecordID)
	}
	if err == nil && req.Kind == threshold.KindCreate {
		if cr := a.chainRecord(req.RecordID); cr != nil {
			err = refuse(req, "the audit chain shows record %s approved already (entry %d, by device %s): an existing record cannot be sealed again",
				req.RecordID, cr.Seq, cr.DeviceID)
		}
	}
	if errors.Is(err, ErrRefused) {
		return a.remember(req.RequestID, err)
	}
	return err
}

// remember keeps a refusal, so that the request is not fetched and checked
// again on every poll.
func (a *Agent) remember(id string, err error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.refused) >= maxRefusedMemory {
		clear(a.refused)
	}
	a.refused[id] = err
	return err
}

// prompt builds what the policy sees. For an access, the record is the
// ledger's, never the server's.
func (a *Agent) prompt(req *Request) *Prompt {
	p := &Prompt{
		RequestID: req.RequestID, Kind: req.Kind, UserID: req.UserID, RecordID: req.RecordID,
		Requester: req.Requester, Purpose: req.Purpose, ServerRecord: req.Record, ExpiresAt: req.ExpiresAt,
	}
	if req.Kind == threshold.KindCreate {
		p.Record = req.Record
		return p
	}
	known, ok := a.ledger.Record(req.RecordID)
	if !ok {
		p.UnknownToLedger = true
		if cr := a.chainRecord(req.RecordID); cr != nil && cr.Verified {
			p.KnownFromChain = cr
			p.Mismatch = !bytes.Equal(cr.ContentSHA256, req.Record.ContentSHA256)
		}
		return p
	}
	p.Record = known
	p.Mismatch = known.Title != req.Record.Title || known.ContentType != req.Record.ContentType ||
		known.Size != req.Record.Size || !bytes.Equal(known.ContentSHA256, req.Record.ContentSHA256)
	return p
}

func (a *Agent) ask(ctx context.Context, p *Prompt) (Decision, error) {
	ctx, cancel := context.WithDeadline(ctx, p.ExpiresAt)
	defer cancel()
	d, err := a.policy(ctx, p)
	if err != nil {
		return "", fmt.Errorf("device: policy: %w", err)
	}
	if d != Approve && d != Deny {
		return "", fmt.Errorf("device: policy returned %.20q", d)
	}
	return d, nil
}

func (a *Agent) allow() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.limiter.allow(a.o.Now())
}

func (a *Agent) begin(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inFlight[id] {
		return false
	}
	a.inFlight[id] = true
	return true
}

func (a *Agent) end(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.inFlight, id)
}

// burstLimiter lets at most max events through in any minute.
type burstLimiter struct {
	max   int
	times []time.Time
}

func (b *burstLimiter) allow(now time.Time) bool {
	if b.max == 0 {
		return true
	}
	cut := 0
	for cut < len(b.times) && now.Sub(b.times[cut]) >= time.Minute {
		cut++
	}
	b.times = b.times[cut:]
	if len(b.times) >= b.max {
		return false
	}
	b.times = append(b.times, now)
	return true
}

// ErrLeftForUser: an add_device request the agent showed once and left for
// the user; it is not handled again.
var ErrLeftForUser = errors.New("device: add_device request left for the user")

// addDevice handles an add_device request: checked, then handed once to
// AgentOptions.AddDevice, or told to Notify and left.
func (a *Agent) addDevice(ctx context.Context, req *Request) (*Result, error) {
	add, err := CheckAddDevice(a.id, req, a.o.Now(), a.o.MaxLifetime)
	if errors.Is(err, ErrRefused) {
		return nil, a.remember(req.RequestID, err)
	}
	if err != nil {
		return nil, err
	}
	left := a.remember(req.RequestID, fmt.Errorf("%w: %s", ErrLeftForUser, req.RequestID))
	if a.o.AddDevice == nil {
		a.o.Notify(Notice{Kind: NoticeAddDevice, RequestID: req.RequestID, AddDevice: add})
		return nil, left
	}
	ctx, cancel := context.WithDeadline(ctx, req.ExpiresAt)
	defer cancel()
	return a.o.AddDevice(ctx, req, add)
}

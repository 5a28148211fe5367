//go:build js && wasm

package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/threshold"
)

// dbName is the IndexedDB database of the device, one per app origin.
const dbName = "assent-device"

// callTimeout bounds a call from the page that is not waiting for the user.
const callTimeout = time.Minute

// Errors the page shows as they are.
var (
	errLocked     = errors.New("the device is locked: unlock it with your passphrase")
	errEnrolled   = errors.New("this browser holds an enrolled device already")
	errNotShown   = errors.New("open the request first")
	errDecision   = errors.New("the decision must be approve or deny")
	errPassphrase = errors.New("the passphrase must be at least 8 characters")
)

// app is the device as the page sees it: locked (only the sealed keystore
// in IndexedDB) or unlocked (identity, ledger and agent in memory).
type app struct {
	mu sync.Mutex
	st *IDB
	pk *IDB // the passkey keystore's database, once used
	// viaPasskey is set when the passkey unlocked the device: each
	// approval then needs the passkey again.
	viaPasskey bool
	client     *device.Client
	id         *device.Identity
	ledger     *device.Ledger
	agent      *device.Agent
	waits      map[string]*wait
	started    time.Time
	join       *join // a transfer under way (join.go)
}

// wait is a request the agent is handling while the page shows it: the
// agent's policy parks on it until the user decides.
type wait struct {
	prompt   *device.Prompt
	shown    chan struct{} // closed once prompt is set
	decision chan choice
	done     chan struct{} // closed once the agent returned
	res      *device.Result
	err      error
}

func newApp() *app {
	return &app{waits: map[string]*wait{}, started: time.Now()}
}

func (a *app) storage(ctx context.Context) (*IDB, error) { return a.openOnce(ctx, &a.st, dbName) }

// openOnce opens the IndexedDB database name into *slot on first use and
// hands out that one connection afterwards.
func (a *app) openOnce(ctx context.Context, slot **IDB, name string) (*IDB, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if *slot != nil {
		return *slot, nil
	}
	st, err := OpenIDB(ctx, name)
	if err != nil {
		return nil, err
	}
	*slot = st
	return st, nil
}

// stateView is what the page needs to pick a screen.
type stateView struct {
	Enrolled    bool        `json:"enrolled"`
	Unlocked    bool        `json:"unlocked"`
	ServerURL   string      `json:"server_url,omitempty"`
	DeviceID    string      `json:"device_id,omitempty"`
	UserID      string      `json:"user_id,omitempty"`
	Fingerprint string      `json:"fingerprint,omitempty"`
	DeviceState string      `json:"device_state,omitempty"`
	Platform    string      `json:"platform"`
	Error       string      `json:"error,omitempty"`
	Passkey     passkeyInfo `json:"passkey"`
	// UnlockedBy is "passphrase" or "passkey".
	UnlockedBy string `json:"unlocked_by,omitempty"`
}

func (a *app) state() stateView {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	v := stateView{Platform: "web"}
	st, err := a.storage(ctx)
	if err != nil {
		v.Error = err.Error()
		return v
	}
	_, err = st.ReadKeystore(ctx)
	switch {
	case err == nil:
		v.Enrolled = true
	case !errors.Is(err, device.ErrNoKeystore):
		v.Error = err.Error()
	}
	v.Passkey = a.passkeyState(ctx)
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.id != nil {
		v.Unlocked = true
		v.UnlockedBy = "passphrase"
		if a.viaPasskey {
			v.UnlockedBy = "passkey"
		}
		v.ServerURL, v.DeviceID, v.UserID = a.id.ServerURL, a.id.DeviceID, a.id.UserID
		v.Fingerprint = threshold.FormatKeyID(a.id.DeviceKeyID)
		v.DeviceState = a.id.State
	}
	return v
}

func clientOptions() device.ClientOptions {
	return device.ClientOptions{Platform: api.PlatformWeb}
}

func (a *app) enroll(serverURL, code, passphrase, name string) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if len(passphrase) < 8 {
		return nil, errPassphrase
	}
	code = strings.TrimSpace(code)
	if name == "" {
		name = "approval app (web)"
	}
	st, err := a.storage(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := st.ReadKeystore(ctx); err == nil {
		return nil, errEnrolled
	}
	c, err := device.NewClient(serverURL, nil, clientOptions())
	if err != nil {
		return nil, err
	}
	pass := []byte(passphrase)
	defer clear(pass)
	id, err := c.Enroll(ctx, code, device.EnrollOptions{Name: name, Save: func(id *device.Identity) error {
		return device.CreateKeystoreIn(ctx, st, pass, id, rand.Reader, device.DefaultKDFParams)
	}})
	if err != nil {
		return nil, err
	}
	if err := a.start(ctx, id); err != nil {
		id.Destroy()
		return nil, err
	}
	return a.state(), nil
}

func (a *app) unlock(passphrase string) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	st, err := a.storage(ctx)
	if err != nil {
		return nil, err
	}
	pass := []byte(passphrase)
	defer clear(pass)
	id, err := device.OpenKeystoreIn(ctx, st, pass)
	if err != nil {
		return nil, err
	}
	id.State = device.StateActive
	if err := a.start(ctx, id); err != nil {
		id.Destroy()
		return nil, err
	}
	return a.state(), nil
}

// start makes the client, ledger and agent of an unlocked identity.
func (a *app) start(ctx context.Context, id *device.Identity) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.id != nil {
		return nil
	}
	c, err := device.NewClient(id.ServerURL, id, clientOptions())
	if err != nil {
		return err
	}
	l, err := device.OpenLedgerIn(ctx, a.st)
	if err != nil {
		return err
	}
	// Number matching is on in the app (DESIGN.md, match_code): an
	// approval needs the two digits the requester shows.
	ag, err := device.NewAgent(c, l, a.policy, device.AgentOptions{RequireMatch: true})
	if err != nil {
		return err
	}
	a.client, a.id, a.ledger, a.agent = c, id, l, ag
	// Learn the chain's records and pin its head at once; the Audit screen
	// shows what it found.
	go func() {
		vctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		defer cancel()
		_, _ = ag.VerifyHistory(vctx)
	}()
	return nil
}

func (a *app) lock() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.id == nil {
		return
	}
	for _, w := range a.waits {
		select {
		case w.decision <- choice{}:
		default:
		}
	}
	a.id.Destroy()
	a.id, a.client, a.agent, a.viaPasskey = nil, nil, nil, false
	// The ledger stays open on the storage: closing it would close the
	// storage the locked app still reads. Reopened on unlock.
	a.ledger = nil
}

// unlocked returns the parts of an unlocked device.
func (a *app) unlocked() (*device.Client, *device.Identity, *device.Ledger, *device.Agent, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.id == nil {
		return nil, nil, nil, nil, errLocked
	}
	return a.client, a.id, a.ledger, a.agent, nil
}

// choice is the user's decision and, for an approval, the match code typed.
type choice struct {
	d     device.Decision
	typed string
}

// policy is the agent's Policy: it hands the prompt to the page and waits
// for the user's decision, or the request's expiry.
func (a *app) policy(ctx context.Context, p *device.Prompt) (device.Decision, error) {
	a.mu.Lock()
	w := a.waits[p.RequestID]
	a.mu.Unlock()
	if w == nil {
		return "", errors.New("no page is showing this request")
	}
	w.prompt = p
	close(w.shown)
	select {
	case c := <-w.decision:
		if c.d == "" {
			return "", errLocked
		}
		p.MatchTyped = c.typed
		return c.d, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// recordView is a record for the page, its digest in hex.
type recordView struct {
	Title       string `json:"title"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

func viewRecord(r device.RecordView) recordView {
	return recordView{Title: r.Title, ContentType: r.ContentType, Size: r.Size, SHA256: hex.EncodeToString(r.ContentSHA256)}
}

type summaryView struct {
	RequestID string     `json:"request_id"`
	Kind      string     `json:"kind"`
	Requester string     `json:"requester"`
	Purpose   string     `json:"purpose"`
	Record    recordView `json:"record"`
	ExpiresAt time.Time  `json:"expires_at"`
	Refused   string     `json:"refused,omitempty"`
}

// pending lists the pending requests, each checked (a refused one says
// why, and cannot be approved).
func (a *app) pending() (any, error) {
	c, id, l, _, err := a.unlocked()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	reqs, err := c.PendingRequests(ctx)
	if err != nil {
		return nil, err
	}
	out := []summaryView{}
	for _, r := range reqs {
		if _, _, answered := l.Answer(r.RequestID); answered {
			continue
		}
		s := summaryView{RequestID: r.RequestID, Kind: r.Kind, Requester: r.Requester.Name, Purpose: r.Purpose,
			Record: viewRecord(r.Record), ExpiresAt: r.ExpiresAt}
		if r.Kind == api.KindAddDevice {
			// Answered on the pairing screen, with the new device's
			// pairing string.
			if add, err := device.CheckAddDevice(id, r, time.Now(), device.MaxApprovalLifetime); err != nil {
				s.Refused = err.Error()
			} else {
				s.Requester, s.Purpose = "a new device of yours", "add device "+add.DeviceID+" named "+device.Quote(add.Name)
			}
			out = append(out, s)
			continue
		}
		if err := device.CheckRequest(id, r, time.Now(), device.DefaultMaxLifetime); err != nil {
			s.Refused = err.Error()
		}
		out = append(out, s)
	}
	return out, nil
}

type promptView struct {
	RequestID       string     `json:"request_id"`
	Kind            string     `json:"kind"`
	RequesterID     string     `json:"requester_id"`
	RequesterName   string     `json:"requester_name"`
	Purpose         string     `json:"purpose"`
	RecordID        string     `json:"record_id"`
	Record          recordView `json:"record"`
	ServerRecord    recordView `json:"server_record"`
	UnknownToLedger bool       `json:"unknown_to_ledger"`
	KnownFromChain  bool       `json:"known_from_chain"`
	Mismatch        bool       `json:"mismatch"`
	ExpiresAt       time.Time  `json:"expires_at"`
	// Text is the prompt as `assent device` prints it, every server string
	// quoted.
	Text    string `json:"text"`
	Refused string `json:"refused,omitempty"`
	// RequireMatch asks the page for the two digits the requester shows
	// (never shown here: the page must not learn them from the device).
	RequireMatch bool `json:"require_match"`
}

// show starts handling a request: the agent fetches and checks it and
// parks on the policy, and show returns the prompt; or, if a check refused
// it, why.
func (a *app) show(requestID string) (any, error) {
	_, _, _, ag, err := a.unlocked()
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	w := a.waits[requestID]
	if w == nil {
		w = &wait{shown: make(chan struct{}), decision: make(chan choice, 1), done: make(chan struct{})}
		a.waits[requestID] = w
		go func() {
			w.res, w.err = ag.Handle(context.Background(), requestID)
			close(w.done)
		}()
	}
	a.mu.Unlock()
	select {
	case <-w.shown:
		return viewPrompt(w.prompt), nil
	case <-w.done:
		a.forget(requestID, w)
		if w.err == nil {
			return nil, errors.New("the request was answered without asking")
		}
		return promptView{RequestID: requestID, Refused: w.err.Error()}, nil
	case <-time.After(callTimeout):
		return nil, errors.New("the server did not answer in time")
	}
}

func (a *app) forget(id string, w *wait) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.waits[id] == w {
		delete(a.waits, id)
	}
}

func viewPrompt(p *device.Prompt) promptView {
	var b strings.Builder
	_ = device.WritePrompt(&b, p, time.Now()) // a strings.Builder never fails
	return promptView{
		RequestID: p.RequestID, Kind: p.Kind, RequesterID: p.Requester.ID, RequesterName: p.Requester.Name,
		Purpose: p.Purpose, RecordID: p.RecordID, Record: viewRecord(p.Record), ServerRecord: viewRecord(p.ServerRecord),
		UnknownToLedger: p.UnknownToLedger, KnownFromChain: p.KnownFromChain != nil, Mismatch: p.Mismatch, RequireMatch: p.RequireMatch, ExpiresAt: p.ExpiresAt, Text: b.String(),
	}
}

type resultView struct {
	RequestID string `json:"request_id"`
	Decision  string `json:"decision"`
	DecidedBy string `json:"decided_by"` // device.DecidedByMatch when a wrong match code denied it
	State     string `json:"state"`
	CPUMillis int64  `json:"device_ms"`
}

// decide hands the user's decision to the agent handling the request and
// returns what the server made of the answer.
func (a *app) decide(requestID, decision, matchCode, prfB64 string) (any, error) {
	var d device.Decision
	switch decision {
	case "approve":
		d = device.Approve
	case "deny":
		d = device.Deny
	default:
		return nil, errDecision
	}
	a.mu.Lock()
	w := a.waits[requestID]
	a.mu.Unlock()
	if w == nil {
		return nil, errNotShown
	}
	select {
	case <-w.shown:
	default:
		return nil, errNotShown
	}
	if d == device.Approve {
		if err := a.gesture(prfB64); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	select {
	case w.decision <- choice{d: d, typed: strings.TrimSpace(matchCode)}:
	default:
		return nil, errors.New("a decision is being sent already")
	}
	<-w.done
	a.forget(requestID, w)
	if w.err != nil {
		return nil, w.err
	}
	return resultView{RequestID: requestID, Decision: string(w.res.Decision), DecidedBy: w.res.DecidedBy, State: w.res.State,
		CPUMillis: time.Since(start).Milliseconds()}, nil
}

type ledgerEntryView struct {
	Seq       int64       `json:"seq"`
	At        time.Time   `json:"at"`
	RequestID string      `json:"request_id"`
	Kind      string      `json:"kind"`
	RecordID  string      `json:"record_id"`
	Record    *recordView `json:"record,omitempty"`
	Requester string      `json:"requester"`
	Purpose   string      `json:"purpose"`
	Decision  string      `json:"decision"`
	DecidedBy string      `json:"decided_by"`
	Server    string      `json:"server"`
}

// ledgerView lists the ledger's answers, newest first, each with what the
// server said.
func (a *app) ledgerView() (any, error) {
	if _, _, _, _, err := a.unlocked(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	entries, err := device.ReadLedgerIn(ctx, a.st)
	if err != nil {
		return nil, err
	}
	outcomes := map[string]*device.Entry{}
	for _, e := range entries {
		if e.Type == device.EntryOutcome {
			outcomes[e.RequestID] = e
		}
	}
	out := []ledgerEntryView{}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Type != device.EntryAnswer {
			continue
		}
		v := ledgerEntryView{Seq: e.Seq, At: e.At, RequestID: e.RequestID, Kind: e.Kind, RecordID: e.RecordID,
			Purpose: e.Purpose, Decision: e.Decision, DecidedBy: e.DecidedBy, Server: "no reply recorded"}
		if e.Record != nil {
			r := viewRecord(*e.Record)
			v.Record = &r
		}
		if e.Requester != nil {
			v.Requester = e.Requester.Name
		}
		switch o := outcomes[e.RequestID]; {
		case o == nil:
		case o.Outcome == device.OutcomeAccepted:
			v.Server = "accepted: " + o.State
		default:
			v.Server = "refused: " + o.Error
		}
		out = append(out, v)
	}
	return out, nil
}

type deviceView struct {
	DeviceID   string    `json:"device_id"`
	State      string    `json:"state"`
	KeyID      string    `json:"key_id"`
	Platform   string    `json:"platform"`
	EnrolledAt time.Time `json:"enrolled_at"`
	This       bool      `json:"this"`
}

type findingView struct {
	Level string `json:"level"` // "alarm", "warning" or "info"
	Text  string `json:"text"`
}

type auditView struct {
	Entries  int           `json:"entries"`
	Head     string        `json:"head"`
	Devices  []deviceView  `json:"devices"`
	Findings []findingView `json:"findings"`
	// SoleHolder is set when this device is the user's only active device:
	// the page warns that losing it loses every record without a
	// recovery kit.
	SoleHolder bool `json:"sole_holder"`
}

// auditDetails is the part of a device event's details the app reads.
type auditDetails struct {
	DeviceKeyID string `json:"device_key_id"`
	State       string `json:"state"`
	Platform    string `json:"platform"`
}

// auditView verifies the user's audit chain as `assent device audit` does
// (device.VerifyHistory through the agent: every link from entry 1, the
// chain extends the head pinned in IndexedDB, every answer of the ledger is
// in it as given, answers by known devices verify) and pins its head; it
// reports the findings, the user's device set as the chain shows it, and
// whether this device is the only active one.
func (a *app) auditView() (any, error) {
	_, id, _, ag, err := a.unlocked()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	h, err := ag.VerifyHistory(ctx)
	if h == nil {
		return nil, err
	}
	v := auditView{Entries: len(h.Chain), Devices: []deviceView{}, Findings: []findingView{}}
	if err != nil {
		v.Findings = append(v.Findings, findingView{"alarm", "The server's history contradicts this device's: " + err.Error()})
	}
	if h.Head != nil {
		v.Head = fmt.Sprintf("entry %d, hash %x", h.Head.Seq, h.Head.Hash)
	}
	for _, f := range h.Findings {
		level := "warning"
		if f.Breaks() {
			level = "alarm"
		}
		v.Findings = append(v.Findings, findingView{level, f.String()})
	}
	devices := map[string]*deviceView{}
	var order []string
	for _, e := range h.Chain {
		var d auditDetails
		if len(e.Details) > 0 {
			_ = json.Unmarshal(e.Details, &d) // informative only: the chain is verified, its findings made above
		}
		switch e.Event {
		case api.AuditDeviceEnrolled:
			dv := devices[e.Subject]
			if dv == nil {
				dv = &deviceView{DeviceID: e.Subject, EnrolledAt: e.At}
				devices[e.Subject] = dv
				order = append(order, e.Subject)
			}
			dv.State, dv.KeyID, dv.Platform = d.State, d.DeviceKeyID, d.Platform
		case api.AuditDeviceRevoked, api.AuditDeviceSuspended, "device_reactivated", "device_cancelled":
			if dv := devices[e.Subject]; dv != nil && d.State != "" {
				dv.State = d.State
			}
		case api.AuditDenied:
			var ad api.AnswerDetails
			if json.Unmarshal(e.Details, &ad) == nil && ad.Reason == api.ReasonMatchFailed {
				v.Findings = append(v.Findings, findingView{"warning", fmt.Sprintf(
					"entry %d: request %s was denied because the code typed did not match the one the requester showed (%s).", e.Seq, e.Subject, api.ReasonMatchFailed)})
			}
		}
	}
	active := 0
	for _, did := range order {
		dv := devices[did]
		dv.This = did == id.DeviceID
		if dv.This && dv.Platform == "" {
			dv.Platform = "web"
		}
		if dv.Platform == "" {
			dv.Platform = "unknown"
		}
		switch dv.State {
		case "active":
			active++
		case "recovery_pending":
			v.Findings = append(v.Findings, findingView{"alarm", fmt.Sprintf(
				"A recovery enrollment (device %s) is pending: if you did not start it, cancel it now from a device you hold.", did)})
		}
		v.Devices = append(v.Devices, *dv)
	}
	v.SoleHolder = active <= 1
	if len(v.Findings) == 0 {
		v.Findings = append(v.Findings, findingView{"info", fmt.Sprintf(
			"The chain of %d entries verifies, extends the head this device pinned before, and holds every answer of its ledger as given.", len(h.Chain))})
	}
	return v, nil
}

type pushConfigView struct {
	VAPIDPublicKey string `json:"vapid_public_key"` // base64url, unpadded, as PushManager.subscribe takes it
}

func (a *app) pushConfig() (any, error) {
	c, _, _, _, err := a.unlocked()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	k, err := c.PushConfig(ctx)
	if err != nil {
		return nil, err
	}
	return pushConfigView{VAPIDPublicKey: base64.RawURLEncoding.EncodeToString(k)}, nil
}

// browserSubscription is PushSubscription.toJSON().
type browserSubscription struct {
	Endpoint string `json:"endpoint"`
	Keys     struct {
		P256dh string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
}

func (a *app) pushSubscribe(subJSON string) (any, error) {
	c, _, _, _, err := a.unlocked()
	if err != nil {
		return nil, err
	}
	var bs browserSubscription
	if err := json.Unmarshal([]byte(subJSON), &bs); err != nil {
		return nil, fmt.Errorf("the push subscription is not PushSubscription JSON: %w", err)
	}
	p256, err1 := base64.RawURLEncoding.DecodeString(strings.TrimRight(bs.Keys.P256dh, "="))
	auth, err2 := base64.RawURLEncoding.DecodeString(strings.TrimRight(bs.Keys.Auth, "="))
	if err1 != nil || err2 != nil {
		return nil, errors.New("the push subscription's keys are not base64url")
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := c.SubscribePush(ctx, &api.PushSubscription{Endpoint: bs.Endpoint, P256dh: p256, Auth: auth}); err != nil {
		return nil, err
	}
	return true, nil
}

// revoke revokes a device of the user after checking the passphrase again
// (the fresh user verification DESIGN.md asks for).
func (a *app) revoke(deviceID, passphrase string) (any, error) {
	c, _, _, _, err := a.unlocked()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	pass := []byte(passphrase)
	defer clear(pass)
	check, err := device.OpenKeystoreIn(ctx, a.st, pass)
	if err != nil {
		return nil, err
	}
	check.Destroy()
	if err := c.Revoke(ctx, deviceID); err != nil {
		return nil, err
	}
	return true, nil
}

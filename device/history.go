package device

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/audit"
	"github.com/assent-dev/assent/threshold"
)

// Kinds of Finding. The first four are alerts: the chain is whole and
// extends the pinned head, but it shows something the device did not
// expect, which the user must look at. The last three are breakage: the
// server's history contradicts what this device knows it did, so the chain
// was rewritten; VerifyHistory then fails with ErrHistory.
const (
	// FindingDeviceEnrolled: a device other than this one and the ones its
	// ledger records (EntryDevice) enrolled for the user (or is pending as
	// a recovery).
	FindingDeviceEnrolled = "device_enrolled"
	// FindingDeviceRevoked: a device of the user was revoked, not by this
	// device.
	FindingDeviceRevoked = "device_revoked"
	// FindingDeviceSuspended: a client suspended a device of the user.
	FindingDeviceSuspended = "device_suspended"
	// FindingForeignAnswer: an answer by a device this device does not
	// know, or by this device but missing from its ledger.
	FindingForeignAnswer = "foreign_answer"

	// FindingAnswerMissing: an answer of the ledger that the server
	// accepted is not in the chain.
	FindingAnswerMissing = "answer_missing"
	// FindingAnswerAltered: an answer of the ledger is in the chain with
	// another statement, signature or decision.
	FindingAnswerAltered = "answer_altered"
	// FindingAnswerForged: the chain holds an answer said to be by a
	// device whose signing key this device knows, and the signature does
	// not verify under it.
	FindingAnswerForged = "answer_forged"
)

// Finding is one thing VerifyHistory found in the user's audit chain.
type Finding struct {
	Kind string // one of the Finding* constants
	// Seq is the chain entry the finding is about (0 for FindingAnswerMissing).
	Seq int64
	// DeviceID is the device enrolled, revoked or suspended, or the device
	// that answered.
	DeviceID string
	// Actor is the entry's actor (who did it), as the chain says.
	Actor     string
	RequestID string // for answers
	RecordID  string // for answers whose statement names a record
	Detail    string // a sentence for the user; never secret
}

// Breaks reports whether f means a rewritten history (FindingAnswerMissing,
// FindingAnswerAltered, FindingAnswerForged), not an alert.
func (f Finding) Breaks() bool {
	switch f.Kind {
	case FindingAnswerMissing, FindingAnswerAltered, FindingAnswerForged:
		return true
	}
	return false
}

// String is the finding as one line for the user.
func (f Finding) String() string {
	where := ""
	if f.Seq > 0 {
		where = fmt.Sprintf("entry %d: ", f.Seq)
	}
	return fmt.Sprintf("%s%s: %s", where, f.Kind, f.Detail)
}

// ChainRecord is a record whose creation the chain shows approved.
type ChainRecord struct {
	RecordID      string
	RequestID     string
	DeviceID      string // the device that approved it
	ContentSHA256 []byte
	Seq           int64
	// Verified is set when the approval is by this device or by a device
	// its ledger records, and its signature verifies.
	Verified bool
}

// History is what VerifyHistory found.
type History struct {
	// Head is the last entry of the verified chain, now pinned (nil for an
	// empty chain); Previous is the head pinned before (nil if none).
	Head, Previous *AuditHead
	// Chain is the verified chain, entry 1 first.
	Chain []*audit.Entry
	// Findings are in chain order, the ledger's missing answers last.
	Findings []Finding
	// Records are the approved creates in the chain, by record id: records
	// the device must treat as known, never as new (DESIGN.md, "The device
	// watches").
	Records map[string]*ChainRecord
}

// Alerts returns the findings that are alerts, not breakage.
func (h *History) Alerts() []Finding {
	var out []Finding
	for _, f := range h.Findings {
		if !f.Breaks() {
			out = append(out, f)
		}
	}
	return out
}

// HistoryOptions tunes VerifyHistory.
type HistoryOptions struct {
	// All reports alerts for the whole chain; by default only for entries
	// after the previously pinned head (older ones were reported when they
	// were new). Breakage is always looked for in the whole chain.
	All bool
	// Devices are more devices of the user the caller verified itself,
	// by id, besides this device and the ledger's device lines.
	Devices map[string]ed25519.PublicKey
}

// approvalDetails are the details of an approved or denied audit entry
// (docs/wire.md).
type approvalDetails = api.AnswerDetails

// VerifyHistory fetches the user's audit chain (Client.Audit, which checks
// every link and hash from entry 1), checks that it extends the head pinned
// in s, compares it with the ledger's lines (Ledger.Entries or ReadLedger;
// nil for a device that has none), and pins its last entry as the new
// head (PinHead, a compare-and-swap on the head it read). It is DESIGN.md's
// "The device watches":
//
//   - a chain that does not extend the pinned head (shorter than it, or with
//     another hash at its seq, as after a server removed entries and hashed
//     the rest again) is refused: ErrHistory, nothing pinned;
//   - every answer of the ledger that the server accepted must be in the
//     chain as an approved or denied entry of its request, with the
//     statement whose SHA-256 the ledger holds, the ledger's signature and
//     decision; one missing or different is breakage (ErrHistory, the
//     findings say which, nothing pinned);
//   - an answer by a device whose key this device knows must verify under
//     that key (FindingAnswerForged otherwise, breakage);
//   - enrollments, revocations and suspensions, and answers by other
//     devices, that the device did not expect are alerts (Findings), and the
//     head is pinned all the same.
//
// The approved creates of the chain are returned as History.Records. When
// the chain cannot be fetched or does not verify, the error is the
// client's (ErrProtocol wrapping audit.ErrChainBroken for a broken chain,
// with ErrHistory too). ErrHeadConflict if another process pinned a head
// meanwhile (run it again); ErrHead for a pinned head that does not decode.
func VerifyHistory(ctx context.Context, c *Client, s Storage, ledger []*Entry, o HistoryOptions) (*History, error) {
	if c.id == nil {
		return nil, ErrNotEnrolled
	}
	pinned, _, err := ReadPinnedHead(ctx, s)
	if err != nil {
		return nil, err
	}
	chain, err := c.Audit(ctx)
	if err != nil {
		if errors.Is(err, audit.ErrChainBroken) {
			return nil, fmt.Errorf("%w: %w", ErrHistory, err)
		}
		return nil, err
	}
	h, err := CheckHistory(c.id, chain, pinned, ledger, o)
	if err != nil {
		return h, err
	}
	if h.Head != nil && (pinned == nil || !pinned.Equal(*h.Head)) {
		if err := PinHead(ctx, s, pinned, *h.Head); err != nil {
			return h, err
		}
	}
	return h, nil
}

// CheckHistory is VerifyHistory's check without fetching or pinning: chain
// must be a whole chain that audit.VerifyChain accepts (it is checked again
// here), pinned the head pinned before (nil if none), ledger the ledger's
// lines (any order; answer, outcome and device lines are used). It returns
// the History even with an ErrHistory error, so that its findings can be
// shown.
func CheckHistory(id *Identity, chain []*audit.Entry, pinned *AuditHead, ledger []*Entry, o HistoryOptions) (*History, error) {
	if err := audit.VerifyChain(chain); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHistory, err)
	}
	if len(chain) > 0 && chain[0].UserID != id.UserID {
		return nil, fmt.Errorf("%w: the audit chain is of another user", ErrHistory)
	}
	h := &History{Previous: pinned, Chain: chain, Records: map[string]*ChainRecord{}}
	if pinned != nil {
		if err := pinned.check(); err != nil {
			return nil, err
		}
		if int64(len(chain)) < pinned.Seq {
			return h, fmt.Errorf("%w: the chain has %d entries, but this device verified one up to entry %d before (%s): entries were removed",
				ErrHistory, len(chain), pinned.Seq, pinned)
		}
		if at := chain[pinned.Seq-1]; !bytes.Equal(at.Hash, pinned.Hash) {
			return h, fmt.Errorf("%w: entry %d has hash %x, but this device verified it as %x before: the chain was rewritten",
				ErrHistory, pinned.Seq, at.Hash, pinned.Hash)
		}
	}
	if n := len(chain); n > 0 {
		h.Head = &AuditHead{Seq: chain[n-1].Seq, Hash: bytes.Clone(chain[n-1].Hash)}
	}

	w := newWatcher(id, ledger, o, pinned)
	for _, e := range chain {
		w.entry(h, e)
	}
	w.missing(h)
	for _, f := range h.Findings {
		if f.Breaks() {
			return h, fmt.Errorf("%w: %s", ErrHistory, f)
		}
	}
	return h, nil
}

// watcher holds what the device expects while it reads the chain.
type watcher struct {
	self    *Identity
	keys    map[string]ed25519.PublicKey // device id -> signing key: this device and the ones it verified
	answers map[string]*Entry            // the ledger's answers by request id
	accepts map[string]bool              // request ids whose answer the server accepted
	seen    map[string]bool              // ledger answers found in the chain
	after   int64                        // alerts only for entries after this seq
}

func newWatcher(id *Identity, ledger []*Entry, o HistoryOptions, pinned *AuditHead) *watcher {
	w := &watcher{self: id, keys: map[string]ed25519.PublicKey{id.DeviceID: id.SigningPublicKey()},
		answers: map[string]*Entry{}, accepts: map[string]bool{}, seen: map[string]bool{}}
	for did, k := range o.Devices {
		w.keys[did] = k
	}
	for _, e := range ledger {
		switch e.Type {
		case EntryAnswer:
			w.answers[e.RequestID] = e
		case EntryOutcome:
			if e.Outcome == OutcomeAccepted {
				w.accepts[e.RequestID] = true
			}
		case EntryDevice:
			w.keys[e.DeviceID] = ed25519.PublicKey(e.SigningPublicKey)
		}
	}
	if pinned != nil && !o.All {
		w.after = pinned.Seq
	}
	return w
}

func (w *watcher) alert(h *History, e *audit.Entry, f Finding) {
	if e.Seq <= w.after {
		return
	}
	f.Seq, f.Actor = e.Seq, e.Actor
	h.Findings = append(h.Findings, f)
}

func (w *watcher) breaks(h *History, e *audit.Entry, f Finding) {
	f.Seq, f.Actor = e.Seq, e.Actor
	h.Findings = append(h.Findings, f)
}

func (w *watcher) entry(h *History, e *audit.Entry) {
	switch e.Event {
	case api.AuditDeviceEnrolled:
		if _, known := w.keys[e.Subject]; !known {
			w.alert(h, e, Finding{Kind: FindingDeviceEnrolled, DeviceID: e.Subject,
				Detail: fmt.Sprintf("device %.60q enrolled for you (%.200q); if it is not yours, revoke it or cancel its recovery", e.Subject, e.Details)})
		}
	case api.AuditDeviceRevoked:
		if e.Actor != w.self.DeviceID {
			w.alert(h, e, Finding{Kind: FindingDeviceRevoked, DeviceID: e.Subject,
				Detail: fmt.Sprintf("device %.60q was revoked by %.60q", e.Subject, e.Actor)})
		}
	case api.AuditDeviceSuspended:
		w.alert(h, e, Finding{Kind: FindingDeviceSuspended, DeviceID: e.Subject,
			Detail: fmt.Sprintf("device %.60q was suspended by client %.60q", e.Subject, e.Actor)})
	case api.AuditApproved, api.AuditDenied:
		w.answer(h, e)
	}
}

// answer checks an approved or denied entry against the ledger and the
// known keys, and collects approved creates.
func (w *watcher) answer(h *History, e *audit.Entry) {
	var d approvalDetails
	if err := decodeJSON(e.Details, &d); err != nil {
		w.breaks(h, e, Finding{Kind: FindingAnswerForged, RequestID: e.Subject,
			Detail: fmt.Sprintf("the answer to %.60q has details that do not decode", e.Subject)})
		return
	}
	decision := threshold.DecisionApprove
	if e.Event == api.AuditDenied {
		decision = threshold.DecisionDeny
	}
	if bytes.HasPrefix(d.Statement, []byte(threshold.LabelAddDevice)) {
		w.addDevice(h, e, &d, decision)
		return
	}
	st, err := threshold.ParseStatement(d.Statement)
	if err != nil || st.RequestID != e.Subject || st.UserID != w.self.UserID || st.Decision != decision || d.DeviceID != e.Actor {
		w.breaks(h, e, Finding{Kind: FindingAnswerForged, RequestID: e.Subject, DeviceID: d.DeviceID,
			Detail: fmt.Sprintf("the answer to %.60q carries a statement that is not of this request, user and decision", e.Subject)})
		return
	}
	key, known := w.keys[d.DeviceID]
	verified := known && threshold.Verify(key, d.Statement, d.Signature) == nil
	if known && !verified {
		w.breaks(h, e, Finding{Kind: FindingAnswerForged, RequestID: st.RequestID, RecordID: st.RecordID, DeviceID: d.DeviceID,
			Detail: fmt.Sprintf("the answer to %.60q is said to be by device %.60q, but its signature does not verify under that device's key", st.RequestID, d.DeviceID)})
		return
	}
	if mine, ok := w.answers[st.RequestID]; ok {
		w.seen[st.RequestID] = true
		sum := sha256.Sum256(d.Statement)
		if mine.Response == nil || !bytes.Equal(sum[:], mine.StatementSHA256) || !bytes.Equal(d.Signature, mine.Response.Signature) || mine.Decision != decision {
			w.breaks(h, e, Finding{Kind: FindingAnswerAltered, RequestID: st.RequestID, RecordID: st.RecordID, DeviceID: d.DeviceID,
				Detail: fmt.Sprintf("the chain holds the answer to %.60q with another statement, signature or decision than the ledger", st.RequestID)})
			return
		}
	} else if d.DeviceID == w.self.DeviceID {
		w.alert(h, e, Finding{Kind: FindingForeignAnswer, RequestID: st.RequestID, RecordID: st.RecordID, DeviceID: d.DeviceID,
			Detail: fmt.Sprintf("this device's signed answer (%s) to %.60q is not in its ledger (was the ledger lost or replaced?)", decision, st.RequestID)})
	} else if !known {
		w.alert(h, e, Finding{Kind: FindingForeignAnswer, RequestID: st.RequestID, RecordID: st.RecordID, DeviceID: d.DeviceID,
			Detail: fmt.Sprintf("device %.60q, unknown to this device, answered %s to %s %.60q of record %.60q", d.DeviceID, decision, st.Kind, st.RequestID, st.RecordID)})
	}
	if st.Kind == threshold.KindCreate && decision == threshold.DecisionApprove {
		h.Records[st.RecordID] = &ChainRecord{RecordID: st.RecordID, RequestID: st.RequestID, DeviceID: d.DeviceID,
			ContentSHA256: bytes.Clone(st.ContentSHA256), Seq: e.Seq, Verified: verified}
	}
}

// addDevice checks an answer to an add_device request: an add_device
// statement of this request, user and decision, signed by the device the
// entry names (FindingAnswerForged otherwise, breakage, when that device is
// known); an answer by a device this device does not know is an alert.
func (w *watcher) addDevice(h *History, e *audit.Entry, d *approvalDetails, decision string) {
	st, err := threshold.ParseAddDeviceStatement(d.Statement)
	if err != nil || st.RequestID != e.Subject || st.UserID != w.self.UserID || st.Decision != decision ||
		st.SenderDeviceID != d.DeviceID || d.DeviceID != e.Actor {
		w.breaks(h, e, Finding{Kind: FindingAnswerForged, RequestID: e.Subject, DeviceID: d.DeviceID,
			Detail: fmt.Sprintf("the answer to add_device request %.60q carries a statement that is not of this request, user, sender and decision", e.Subject)})
		return
	}
	key, known := w.keys[d.DeviceID]
	switch {
	case known && threshold.Verify(key, d.Statement, d.Signature) != nil:
		w.breaks(h, e, Finding{Kind: FindingAnswerForged, RequestID: st.RequestID, DeviceID: d.DeviceID,
			Detail: fmt.Sprintf("the answer to add_device request %.60q is said to be by device %.60q, but its signature does not verify under that device's key", st.RequestID, d.DeviceID)})
	case !known:
		w.alert(h, e, Finding{Kind: FindingForeignAnswer, RequestID: st.RequestID, DeviceID: d.DeviceID,
			Detail: fmt.Sprintf("device %.60q, unknown to this device, answered %s to adding device %.60q", d.DeviceID, decision, st.NewDeviceID)})
	}
}

// missing reports the ledger's accepted answers that the chain lacks.
func (w *watcher) missing(h *History) {
	var lost []*Entry
	for rid := range w.accepts {
		if a := w.answers[rid]; a != nil && !w.seen[rid] {
			lost = append(lost, a)
		}
	}
	slices.SortFunc(lost, func(a, b *Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	for _, a := range lost {
		rid := a.RequestID
		h.Findings = append(h.Findings, Finding{Kind: FindingAnswerMissing, RequestID: rid, RecordID: a.RecordID, DeviceID: w.self.DeviceID,
			Detail: fmt.Sprintf("the ledger's answer (%s) to %s, which the server accepted, is not in the chain", a.Decision, rid)})
	}
}

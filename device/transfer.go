package device

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cloudflare/circl/hpke"
	"github.com/cloudflare/circl/kem"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/audit"
	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/internal/secret"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/threshold"
)

// Adding a device by transfer (DESIGN.md, "Adding a device (transfer)"),
// both sides: the new device enrolls with transfer:true and shows its
// pairing string (EnrollTransfer), an existing device answers the
// add_device request with the pairing string the user carried to it
// (AnswerAddDevice), and the new device fetches, checks and opens the
// bundle, then confirms its enrollment (CompleteTransfer).

// transferSuite is the bundle's HPKE suite: base mode, DHKEM(X25519,
// HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305 (RFC 9180).
var transferSuite = hpke.NewSuite(hpke.KEM_X25519_HKDF_SHA256, hpke.KDF_HKDF_SHA256, hpke.AEAD_ChaCha20Poly1305)

// transferKEM is the KEM of transferSuite.
var transferKEM = hpke.KEM_X25519_HKDF_SHA256.Scheme()

// noTransferKeyHash is the transfer key hash a deny names when the user
// gave no pairing string (the statement needs 32 bytes).
var noTransferKeyHash = make([]byte, sha256.Size)

// PendingTransfer is a device enrolled with transfer:true: registered on the
// server, awaiting an existing device's bundle. It holds the device's
// signing key and its X25519 transfer private key, which never leaves it;
// call Destroy when done.
type PendingTransfer struct {
	DeviceID string
	UserID   string
	// Name is the device name it enrolled with.
	Name       string
	signingKey ed25519.PrivateKey
	transferSK kem.PrivateKey
	transferPK []byte
	blinded    [][]byte
}

// PairingString returns what the new device shows, as text and as a QR
// code, for the user to carry to an existing device:
// "assent-pair:v1:<device_id>:<base32 of the transfer public key>".
func (p *PendingTransfer) PairingString() string {
	return threshold.PairingString(p.DeviceID, p.transferPK)
}

// TransferPublicKey returns a copy of the X25519 transfer public key (32
// bytes), which only the pairing string carries.
func (p *PendingTransfer) TransferPublicKey() []byte { return bytes.Clone(p.transferPK) }

// Destroy clears the signing key (the transfer private key is circl's and
// is dropped).
func (p *PendingTransfer) Destroy() {
	secret.Clear(p.signingKey)
	p.transferSK = nil
}

// identity is the partial identity of the pending device, enough to sign
// its calls.
func (p *PendingTransfer) identity(serverURL string) *Identity {
	return &Identity{DeviceID: p.DeviceID, UserID: p.UserID, ServerURL: serverURL, SigningKey: p.signingKey}
}

// EnrollTransfer enrolls this device with an enrollment code as a device
// added by transfer: it makes a signing key and an X25519 transfer key pair,
// and registers the signing key only (POST /v1/device/enroll with
// transfer:true and the client's platform; the transfer public key is never
// sent). The server answers
// 202 awaiting_transfer and asks the user's active devices with an
// add_device request. A server refusal is an *APIError (401 unknown code,
// 410 used or expired, 409 a user without a device to transfer from).
func (c *Client) EnrollTransfer(ctx context.Context, code, name string) (*PendingTransfer, error) {
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 64 {
		return nil, errors.New("device: enrollment code must be 1 to 64 characters")
	}
	if len(name) > MaxDeviceNameLen {
		return nil, fmt.Errorf("device: device name over %d bytes", MaxDeviceNameLen)
	}
	seed := make([]byte, transferKEM.SeedSize())
	defer secret.Clear(seed)
	if _, err := io.ReadFull(c.rand, seed); err != nil {
		return nil, fmt.Errorf("device: transfer key: %w", err)
	}
	pk, sk := transferKEM.DeriveKeyPair(seed)
	pkBytes, err := pk.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("device: transfer key: %w", err)
	}
	_, signing, err := ed25519.GenerateKey(c.rand)
	if err != nil {
		return nil, fmt.Errorf("device: signing key: %w", err)
	}
	p := &PendingTransfer{Name: name, signingKey: signing, transferSK: sk, transferPK: pkBytes}
	var reg api.EnrollAnswer
	err = c.do(ctx, call{method: methodPost, target: api.PathDeviceEnroll, want: statusAccepted, out: &reg,
		body: &api.EnrollRequest{EnrollmentCode: code, DeviceName: name, SigningPublicKey: signing.Public().(ed25519.PublicKey), Transfer: true,
			Platform: c.platform}})
	if err != nil {
		p.Destroy()
		return nil, fmt.Errorf("device: enrolling for a transfer: %w", err)
	}
	if ids.Check(ids.Device, reg.DeviceID) != nil || ids.Check(ids.User, reg.UserID) != nil || reg.State != api.DeviceAwaitingTransfer {
		p.Destroy()
		return nil, fmt.Errorf("%w: transfer enrollment answer has malformed ids or another state", ErrProtocol)
	}
	if err := checkBlinded(reg.BlindedElements); err != nil {
		p.Destroy()
		return nil, fmt.Errorf("%w: enrollment check: %v", ErrProtocol, err)
	}
	p.DeviceID, p.UserID, p.blinded = reg.DeviceID, reg.UserID, reg.BlindedElements
	return p, nil
}

// TransferOptions are the optional inputs of CompleteTransfer.
type TransferOptions struct {
	// PollInterval is the wait between two asks for the bundle (2 s).
	PollInterval time.Duration
	// Save, when set, is called with the new identity and the opened,
	// checked bundle (its ledger and audit head to import) before the
	// device confirms, so that kD is stored before the server can activate
	// the device. An error stops the transfer before the confirmation.
	Save func(*Identity, *Bundle) error
}

// CompleteTransfer waits for the bundle of p (GET /v1/device/transfer,
// signed with p's own key, every o.PollInterval while the answer is 409
// transfer_pending), then checks and opens it (OpenTransfer), saves it
// (o.Save) and confirms the enrollment as in step 3 (POST
// /v1/device/enroll/confirm with the v2 proof bound to p's signing key).
// It returns the active identity, which the caller owns.
//
// Errors: ErrTransfer for a bundle that fails a check (nothing saved or
// confirmed); an *APIError 403 transfer_denied when the add_device request
// was denied or expired, 410 when the bundle was fetched already or has
// expired; ctx's error.
func (c *Client) CompleteTransfer(ctx context.Context, p *PendingTransfer, o TransferOptions) (*Identity, error) {
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	// The same server and transport, signing as the pending device.
	signer := *c
	signer.id = p.identity(c.ServerURL())
	var t api.Transfer
	for {
		err := signer.do(ctx, call{method: methodGet, target: api.PathDeviceTransfer, signed: true, want: statusOK, out: &t})
		var ae *APIError
		if err == nil {
			break
		}
		if !(errors.As(err, &ae) && ae.Code == api.ErrTransferPending.Code) && !transient(err) {
			return nil, fmt.Errorf("device: fetching the transfer bundle: %w", err)
		}
		if err := sleep(ctx, o.PollInterval); err != nil {
			return nil, err
		}
	}
	id, b, err := p.OpenTransfer(&t)
	if err != nil {
		return nil, err
	}
	defer b.Destroy()
	id.ServerURL = c.ServerURL()
	ok := false
	defer func() {
		if !ok {
			id.Destroy()
		}
	}()
	signPub := id.SigningPublicKey()
	oprfPub := id.OPRFKey.Public().Bytes()
	info, err := threshold.EnrollCheckInfo(id.UserID, id.DeviceID, signPub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	evaluated, proof, err := id.OPRFKey.EvaluatePOPRF(c.rand, p.blinded, info)
	if err != nil {
		return nil, fmt.Errorf("%w: evaluating the enrollment check: %v", ErrProtocol, err)
	}
	stmt, err := threshold.EnrollStatement(id.UserID, id.DeviceID, oprfPub, signPub, p.blinded)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	if o.Save != nil {
		if err := o.Save(id, b); err != nil {
			return nil, err
		}
	}
	var conf api.ConfirmAnswer
	err = c.do(ctx, call{method: methodPost, target: api.PathDeviceConfirm, want: statusOK, out: &conf,
		body: &api.ConfirmRequest{DeviceID: id.DeviceID, EvaluatedElements: evaluated, Proof: proof, Signature: threshold.Sign(id.SigningKey, stmt)}})
	if err != nil {
		return nil, fmt.Errorf("device: confirming the transfer enrollment: %w", err)
	}
	if conf.DeviceID != id.DeviceID || conf.UserID != id.UserID || conf.State != StateActive {
		return nil, fmt.Errorf("%w: confirmation names another device or state", ErrProtocol)
	}
	id.State = conf.State
	ok = true
	return id, nil
}

// OpenTransfer checks and opens a transfer the server handed out, in
// DESIGN.md's order. Before opening: the statement parses strictly, is an
// approval, and names this device's id, user, signing key and the SHA-256
// of this device's transfer public key, and the request and sender the
// answer names. Then the bundle opens under HPKE with info = the statement
// (any change to either fails), decodes strictly, is for this user, and
// its device share's public key is pkD as the statement names it
// (device_key_id) and as every device of its list names it; the sender is
// an active device of that list with a signing key, which verifies the
// statement's signature. It returns the new identity (no ServerURL, state
// unset) and the bundle; the caller owns both. Every failure wraps
// ErrTransfer.
func (p *PendingTransfer) OpenTransfer(t *api.Transfer) (*Identity, *Bundle, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrTransfer}, args...)...)
	}
	st, err := threshold.ParseAddDeviceStatement(t.Statement)
	if err != nil {
		return nil, nil, bad("the add_device statement: %v", err)
	}
	myHash := sha256.Sum256(p.transferPK)
	switch {
	case st.Decision != threshold.DecisionApprove:
		return nil, nil, bad("the statement is not an approval")
	case st.NewDeviceID != p.DeviceID || t.DeviceID != p.DeviceID:
		return nil, nil, bad("the statement names device %.40q, not this device", st.NewDeviceID)
	case st.UserID != p.UserID || t.UserID != p.UserID:
		return nil, nil, bad("the statement names another user")
	case subtle.ConstantTimeCompare(st.SigningPublicKey, p.signingKey.Public().(ed25519.PublicKey)) != 1:
		return nil, nil, bad("the statement names another signing key than this device's (changed on its way to the existing device)")
	case subtle.ConstantTimeCompare(st.TransferKeyHash, myHash[:]) != 1:
		return nil, nil, bad("the statement names another transfer key than this device's")
	case st.RequestID != t.RequestID || st.SenderDeviceID != t.SenderDeviceID:
		return nil, nil, bad("the statement names another request or sender than the answer")
	}
	plain, err := openBundle(p.transferSK, t.Statement, t.Bundle)
	if err != nil {
		return nil, nil, bad("the bundle does not open with this device's transfer key and the statement: %v", err)
	}
	defer secret.Clear(plain)
	b, err := DecodeBundle(plain)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*Identity, *Bundle, error) {
		b.Destroy()
		return nil, nil, err
	}
	if b.UserID != p.UserID {
		return fail(bad("the bundle is for another user"))
	}
	k, err := oprf.ParsePrivateKey(b.DeviceKey)
	if err != nil {
		return fail(bad("the device share does not decode"))
	}
	keyID := threshold.DeviceKeyID(k.Public().Bytes())
	if keyID != st.DeviceKeyID {
		k.Destroy()
		return fail(bad("the device share's public key is not the user's pkD as the statement names it"))
	}
	var sender *BundleDevice
	for i, d := range b.Devices {
		if d.DeviceKeyID != keyID {
			k.Destroy()
			return fail(bad("device %s of the bundle's list holds another key than the device share's", d.DeviceID))
		}
		if d.DeviceID == st.SenderDeviceID {
			sender = &b.Devices[i]
		}
	}
	if sender == nil || sender.State != api.DeviceActive || sender.SigningPublicKey == nil {
		k.Destroy()
		return fail(bad("the sender is not an active device of the bundle's list"))
	}
	if threshold.Verify(sender.SigningPublicKey, t.Statement, t.Signature) != nil {
		k.Destroy()
		return fail(bad("the statement's signature is not the sender's"))
	}
	id := &Identity{DeviceID: p.DeviceID, UserID: p.UserID, DeviceKeyID: keyID, OPRFKey: k,
		SigningKey: bytes.Clone(p.signingKey)}
	b.Sender = sender
	return id, b, nil
}

// ImportTransfer writes what an opened bundle hands over into s, the new
// device's empty storage: the sender's ledger and the audit head
// (ImportState; ErrNotEmpty, ErrLedger, ErrHead), then a device line for the
// sender, the device this one verified (Ledger.AppendDevice), so that its
// answers in the chain are expected.
func ImportTransfer(ctx context.Context, s Storage, b *Bundle, userID string, at time.Time) error {
	if err := ImportState(ctx, s, b.State(), userID); err != nil {
		return err
	}
	if b.Sender == nil {
		return nil
	}
	l, err := OpenLedgerIn(ctx, s)
	if err != nil {
		return err
	}
	defer l.Close() // s stays open: the caller's
	return l.AppendDevice(b.Sender.DeviceID, b.Sender.SigningPublicKey, "", at)
}

// sealBundle seals plain to the transfer public key pub with info: the
// encapsulated key followed by the ciphertext.
func sealBundle(rand io.Reader, pub, info, plain []byte) ([]byte, error) {
	pk, err := transferKEM.UnmarshalBinaryPublicKey(pub)
	if err != nil {
		return nil, err
	}
	sender, err := transferSuite.NewSender(pk, info)
	if err != nil {
		return nil, err
	}
	enc, sealer, err := sender.Setup(rand)
	if err != nil {
		return nil, err
	}
	ct, err := sealer.Seal(plain, nil)
	if err != nil {
		return nil, err
	}
	return append(enc, ct...), nil
}

// openBundle opens what sealBundle made with the transfer private key.
func openBundle(sk kem.PrivateKey, info, bundle []byte) ([]byte, error) {
	n := transferKEM.CiphertextSize()
	if sk == nil || len(bundle) <= n {
		return nil, errors.New("bundle too short")
	}
	receiver, err := transferSuite.NewReceiver(sk, info)
	if err != nil {
		return nil, err
	}
	opener, err := receiver.Setup(bundle[:n])
	if err != nil {
		return nil, err
	}
	return opener.Open(bundle[n:], nil)
}

// AddDevice is what the user is shown about an add_device request that
// passed the device's checks, before the pairing string is asked for.
type AddDevice struct {
	RequestID        string
	DeviceID         string
	Name             string // untrusted: the name the new device enrolled with
	SigningPublicKey []byte
	ExpiresAt        time.Time
}

// CheckAddDevice checks an add_device request from the server against the
// device's identity and clock: pending (ErrNotPending otherwise), for this
// user and this device's key, a well-formed new device (id, UTF-8 name of
// at most MaxTextLen bytes, 32-byte signing key) that is not this device,
// no record or blinded elements, and times as CheckRequest's. Failures
// wrap ErrRefused.
func CheckAddDevice(id *Identity, req *Request, now time.Time, maxLifetime time.Duration) (*AddDevice, error) {
	if err := ids.Check(ids.Request, req.RequestID); err != nil {
		return nil, fmt.Errorf("%w: malformed request id", ErrRefused)
	}
	if req.State != RequestState {
		return nil, fmt.Errorf("%w: %s is %.20q", ErrNotPending, req.RequestID, req.State)
	}
	nd := req.NewDevice
	switch {
	case req.Kind != api.KindAddDevice:
		return nil, refuse(req, "it is not an add_device request")
	case req.UserID != id.UserID:
		return nil, refuse(req, "it is for user %.40q, this device is enrolled for %s", req.UserID, id.UserID)
	case req.DeviceKeyID != id.DeviceKeyID:
		return nil, refuse(req, "it needs device key %.40q, this device holds key %s", req.DeviceKeyID, id.DeviceKeyID)
	case nd == nil || ids.Check(ids.Device, nd.DeviceID) != nil || nd.DeviceID == id.DeviceID:
		return nil, refuse(req, "it names no well-formed new device")
	case len(nd.SigningPublicKey) != ed25519.PublicKeySize:
		return nil, refuse(req, "the new device's signing key is malformed")
	case len(nd.Name) > MaxTextLen || !utf8.ValidString(nd.Name):
		return nil, refuse(req, "the new device's name is not UTF-8 of at most %d bytes", MaxTextLen)
	case req.RecordID != "" || len(req.BlindedElements) != 0:
		return nil, refuse(req, "it carries a record or blinded elements")
	}
	if err := checkTimes(req, now, maxLifetime); err != nil {
		return nil, err
	}
	return &AddDevice{RequestID: req.RequestID, DeviceID: nd.DeviceID, Name: nd.Name,
		SigningPublicKey: bytes.Clone(nd.SigningPublicKey), ExpiresAt: req.ExpiresAt}, nil
}

// AnswerAddDevice answers add_device request req (checked by
// CheckAddDevice) with decision. The caller has asked for fresh user
// verification (the passphrase re-entered, the keystore re-opened).
//
// For an approval, pairing is the pairing string the user carried from the
// new device: it must parse and name the request's device (ErrPairing,
// nothing signed or sent). The device fetches and verifies the user's audit
// chain, builds the bundle (kD, ledger, the chain's head and the device
// list the chain shows, with this device's own signing key), signs the
// add_device statement, seals the bundle to the transfer key with HPKE
// (info = the statement) and posts both. A deny needs no pairing string
// (if one is given it is checked the same way).
// state is this device's ledger and pinned head (Ledger.ExportState or
// ExportState); the chain fetched must extend that head (ErrHistory
// otherwise, nothing sent), and the bundle carries the head of that chain,
// verified now. It returns the request's new state; a server refusal is an
// *APIError.
func (c *Client) AnswerAddDevice(ctx context.Context, req *Request, decision Decision, pairing string, state *State) (string, error) {
	if c.id == nil || c.id.OPRFKey == nil {
		return "", ErrNotEnrolled
	}
	add, err := CheckAddDevice(c.id, req, c.now(), MaxApprovalLifetime)
	if err != nil {
		return "", err
	}
	if decision != Approve && decision != Deny {
		return "", fmt.Errorf("device: decision %.20q", decision)
	}
	hash := noTransferKeyHash
	var transferPub []byte
	if pairing != "" || decision == Approve {
		devID, pub, err := threshold.ParsePairingString(pairing)
		if err != nil {
			return "", fmt.Errorf("%w: %v", ErrPairing, err)
		}
		if devID != add.DeviceID {
			return "", fmt.Errorf("%w: it names device %.40q, the request asks to add %s", ErrPairing, devID, add.DeviceID)
		}
		sum := sha256.Sum256(pub)
		hash, transferPub = sum[:], pub
	}
	st := threshold.AddDeviceStatement{
		RequestID: req.RequestID, UserID: c.id.UserID, NewDeviceID: add.DeviceID, SigningPublicKey: add.SigningPublicKey,
		TransferKeyHash: hash, SenderDeviceID: c.id.DeviceID, DeviceKeyID: c.id.DeviceKeyID,
		Decision: string(decision), ExpiresAt: req.ExpiresAt,
	}
	stmt, err := st.Marshal()
	if err != nil {
		return "", refuse(req, "its statement cannot be built: %v", err)
	}
	resp := &Response{Decision: string(decision), Signature: threshold.Sign(c.id.SigningKey, stmt), TransferKeyHash: hash}
	if decision == Approve {
		plain, err := c.bundlePlaintext(ctx, state)
		if err != nil {
			return "", err
		}
		resp.TransferBundle, err = sealBundle(c.rand, transferPub, stmt, plain)
		secret.Clear(plain)
		if err != nil {
			return "", fmt.Errorf("device: sealing the transfer bundle: %w", err)
		}
	}
	return c.Respond(ctx, req.RequestID, resp)
}

// MaxApprovalLifetime is the longest add_device request lifetime the device
// accepts (the server's longest approval TTL).
const MaxApprovalLifetime = time.Hour

// bundlePlaintext builds this device's bundle: kD, ledger, and the head
// and device list of the user's audit chain, fetched and verified now.
func (c *Client) bundlePlaintext(ctx context.Context, st *State) ([]byte, error) {
	if st == nil {
		st = &State{}
	}
	var ledger []byte
	for _, line := range st.Lines {
		ledger = append(append(ledger, line...), '\n')
	}
	entries, err := c.Audit(ctx)
	if err != nil {
		return nil, err
	}
	// The chain must extend the head this device pinned, and agree with its
	// ledger, before its device list and head are handed on.
	parsed := newLedgerState(true)
	if _, err := parsed.parse(ledger); err != nil {
		return nil, err
	}
	if _, err := CheckHistory(c.id, entries, st.Head, parsed.entries, HistoryOptions{}); err != nil {
		return nil, err
	}
	b := &Bundle{Version: BundleVersion, UserID: c.id.UserID, DeviceKey: c.id.OPRFKey.Bytes(), Ledger: ledger}
	defer b.Destroy()
	if n := len(entries); n > 0 {
		b.AuditHead = &BundleHead{Seq: entries[n-1].Seq, Hash: entries[n-1].Hash}
	}
	b.Devices = chainDevices(entries, c.id)
	return MarshalBundle(b)
}

// chainDevices is the user's device list as the verified chain shows it:
// every device enrolled with the user's key, in its latest state (this
// device with its own signing key, and listed even if the chain does not
// show it yet).
func chainDevices(entries []*audit.Entry, self *Identity) []BundleDevice {
	var order []string
	byID := map[string]*BundleDevice{}
	for _, e := range entries {
		var d struct {
			DeviceKeyID string `json:"device_key_id"`
			State       string `json:"state"`
		}
		switch e.Event {
		case "device_enrolled", "device_revoked", "device_suspended", "device_reactivated", "device_cancelled":
		default:
			continue
		}
		if ids.Check(ids.Device, e.Subject) != nil {
			continue
		}
		_ = json.Unmarshal(e.Details, &d)
		dev := byID[e.Subject]
		if e.Event == "device_enrolled" {
			if d.DeviceKeyID != self.DeviceKeyID {
				continue // a device of another key never holds kD
			}
			if dev == nil {
				dev = &BundleDevice{DeviceID: e.Subject, DeviceKeyID: d.DeviceKeyID}
				byID[e.Subject] = dev
				order = append(order, e.Subject)
			}
			dev.State = d.State
			continue
		}
		if dev == nil {
			continue
		}
		dev.State = map[string]string{"device_revoked": api.DeviceRevoked, "device_suspended": api.DeviceSuspended,
			"device_reactivated": api.DeviceActive, "device_cancelled": api.DeviceCancelled}[e.Event]
	}
	if byID[self.DeviceID] == nil {
		byID[self.DeviceID] = &BundleDevice{DeviceID: self.DeviceID, DeviceKeyID: self.DeviceKeyID}
		order = append(order, self.DeviceID)
	}
	me := byID[self.DeviceID]
	me.State, me.SigningPublicKey = api.DeviceActive, bytes.Clone(self.SigningPublicKey())
	out := make([]BundleDevice, 0, len(order))
	for _, id := range order {
		if len(out) == maxBundleDevices {
			break
		}
		out = append(out, *byID[id])
	}
	return out
}

package e2e

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assent-dev/assent/client"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/server"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// newCode asks a fresh enrollment code for the env's user, as the client
// that created the user may.
func (e *env) newCode(tp *ThirdParty) string {
	e.t.Helper()
	u, err := tp.NewEnrollment(e.ctx, e.user.UserID)
	if err != nil {
		e.t.Fatalf("new enrollment code: %v", err)
	}
	return u.EnrollmentCode
}

// The attack of issue 9: the client that created the user asks for a
// second code and enrolls a device of its own with a fresh key. It is
// refused; records another client stores for the user still go to, and
// are sealed by, the user's own device; and a device that names the user's
// key without holding it fails its proof.
func TestAdminCannotAddDevice(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	anon, err := device.NewClient(e.node.URL, nil, device.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}

	_, err = anon.Enroll(e.ctx, e.newCode(e.clinic), device.EnrollOptions{Name: "admin's phone"})
	wantAPIError(t, err, http.StatusConflict, "device_key_mismatch")

	// The right key, named by its public half, without kD: the proof fails.
	code := e.newCode(e.clinic)
	pkD := e.dev.Identity.OPRFKey.Public().Bytes()
	signPub, sk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		DeviceID        string   `json:"device_id"`
		UserID          string   `json:"user_id"`
		BlindedElements [][]byte `json:"blinded_elements"`
	}
	if err := postJSON(e.node.URL+"/v1/device/enroll", map[string]any{
		"enrollment_code": code, "device_name": "impostor", "oprf_public_key": pkD, "signing_public_key": []byte(signPub),
	}, http.StatusCreated, &reg); err != nil {
		t.Fatal(err)
	}
	fake, err := oprf.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	info, err := threshold.EnrollCheckInfo(reg.UserID, reg.DeviceID, signPub)
	if err != nil {
		t.Fatal(err)
	}
	ev, proof, err := fake.EvaluatePOPRF(rand.Reader, reg.BlindedElements, info)
	if err != nil {
		t.Fatal(err)
	}
	stmt, err := threshold.EnrollStatement(reg.UserID, reg.DeviceID, pkD, signPub, reg.BlindedElements)
	if err != nil {
		t.Fatal(err)
	}
	err = postJSON(e.node.URL+"/v1/device/enroll/confirm", map[string]any{
		"device_id": reg.DeviceID, "evaluated_elements": ev, "proof": proof, "signature": threshold.Sign(sk, stmt),
	}, http.StatusOK, nil)
	wantAPIError(t, err, http.StatusBadRequest, "bad_proof")

	// Another client's record still goes to the user's device, which seals it.
	lab, err := NewThirdParty(e.ctx, e.node, "Lab", server.ScopeRecordsWrite)
	if err != nil {
		t.Fatal(err)
	}
	rid, err := lab.CreateRecord(e.ctx, e.user.UserID, "X-ray", "image/png", "storage")
	if err != nil {
		t.Fatal(err)
	}
	data := content(9, 1000)
	if _, err := lab.Upload(e.ctx, rid, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	r := e.awaitRecord(lab, rid, store.RecordSealed)
	if r.Approval == nil || r.Approval.DeviceID != e.dev.Identity.DeviceID {
		t.Fatalf("record sealed by %+v, want the user's device %s", r.Approval, e.dev.Identity.DeviceID)
	}
	if err := threshold.Verify(e.dev.Identity.SigningPublicKey(), r.Approval.Statement, r.Approval.Signature); err != nil {
		t.Fatalf("the seal's approval is not the user's device's: %v", err)
	}
	// The refused devices never became active: the user's key and device
	// are as before, and the chain records one enrollment.
	if n := countEvents(e.audit(), store.EventDeviceEnrolled); len(n) != 1 || n[e.dev.Identity.DeviceID] != 1 {
		t.Fatalf("device_enrolled events %v, want one, of the user's device", n)
	}
}

// enrollWithKey enrolls a device holding kD (rebuilt from a recovery kit)
// with a fresh code and returns its identity (with the state it ended in)
// and client.
func (e *env) enrollWithKey(serverURL string, kD *oprf.PrivateKey) (*device.Identity, *device.Client) {
	e.t.Helper()
	anon, err := device.NewClient(serverURL, nil, device.ClientOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	id, err := anon.Enroll(e.ctx, e.newCode(e.clinic), device.EnrollOptions{Name: "recovered", OPRFKey: kD})
	if err != nil {
		e.t.Fatalf("enrolling with the user's key: %v", err)
	}
	e.t.Cleanup(id.Destroy)
	c, err := device.NewClient(serverURL, id, device.ClientOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return id, c
}

// Recovery while a device is active stays pending and can be cancelled;
// suspension and revocation take effect at once, on a second node too;
// with no active device a recovery is active at once.
func TestRecoverySuspendRevoke(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	cfg2 := e.cfg
	cfg2.Listen, cfg2.NodeID = "127.0.0.1:0", "node-2"
	node2, err := StartNode(cfg2, slog.New(slog.NewTextHandler(e.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node2.Stop() })
	onNode2 := func(id *device.Identity) *device.Client {
		c, err := device.NewClient(node2.URL, id, device.ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	phone := e.dev.Identity
	kD := phone.OPRFKey

	pendingID, pending := e.enrollWithKey(e.node.URL, kD)
	if st := pendingID.State; st != device.StateRecoveryPending {
		t.Fatalf("recovery while a device is active ended %s, want %s", st, device.StateRecoveryPending)
	}
	_, err = pending.PendingRequests(e.ctx)
	wantAPIError(t, err, http.StatusUnauthorized, "unauthenticated")
	if err := onNode2(phone).Cancel(e.ctx, pendingID.DeviceID); err != nil {
		t.Fatalf("cancelling the pending recovery on node 2: %v", err)
	}
	wantAPIError(t, e.dev.Client.Cancel(e.ctx, pendingID.DeviceID), http.StatusConflict, "conflict")
	entries := e.audit()
	var via []string
	for _, a := range entries {
		if a.Event == store.EventDeviceEnrolled && a.Subject == pendingID.DeviceID {
			via = append(via, string(a.Details))
		}
	}
	if len(via) != 1 || !strings.Contains(via[0], `"via":"recovery"`) || !strings.Contains(via[0], `"state":"recovery_pending"`) {
		t.Fatalf("device_enrolled of the pending recovery: %q", via)
	}
	if n := countEvents(entries, store.EventDeviceCancelled); n[pendingID.DeviceID] != 1 {
		t.Fatalf("device_cancelled events %v", n)
	}

	// The user's third party suspends the phone: refused at once on both nodes.
	if err := e.clinic.SuspendDevice(e.ctx, e.user.UserID, phone.DeviceID); err != nil {
		t.Fatalf("suspending: %v", err)
	}
	_, err = e.dev.Client.PendingRequests(e.ctx)
	wantAPIError(t, err, http.StatusUnauthorized, "unauthenticated")
	_, err = onNode2(phone).PendingRequests(e.ctx)
	wantAPIError(t, err, http.StatusUnauthorized, "unauthenticated")

	// No active device: the recovery is active at once, on node 2, and it
	// revokes the suspended phone, which stays refused everywhere.
	recoveredID, recovered := e.enrollWithKey(node2.URL, kD)
	if st := recoveredID.State; st != device.StateActive {
		t.Fatalf("recovery with no active device ended %s, want active", st)
	}
	if err := recovered.Revoke(e.ctx, phone.DeviceID); err != nil {
		t.Fatalf("revoking the suspended phone: %v", err)
	}
	wantAPIError(t, recovered.Revoke(e.ctx, phone.DeviceID), http.StatusConflict, "conflict")
	_, err = e.dev.Client.PendingRequests(e.ctx)
	wantAPIError(t, err, http.StatusUnauthorized, "unauthenticated")

	// The recovered device answers for the user: a new record is sealed by it.
	ledger, err := device.OpenLedger(filepath.Join(t.TempDir(), "recovered.ledger"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ledger.Close() })
	rec, err := device.NewAgent(recovered, ledger, e.policy, agentOptions())
	if err != nil {
		t.Fatal(err)
	}
	p := e.upload("after recovery", "storage", content(4, 500))
	if _, err := rec.Handle(e.ctx, p.RequestID); err != nil {
		t.Fatal(err)
	}
	r := e.awaitRecord(e.clinic, p.RecordID, store.RecordSealed)
	if r.Approval.DeviceID != recoveredID.DeviceID {
		t.Fatalf("sealed by %s, want the recovered device", r.Approval.DeviceID)
	}
	chain, err := recovered.Audit(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := countEvents(chain, store.EventDeviceRevoked); n[phone.DeviceID] != 1 {
		t.Fatalf("device_revoked events %v", n)
	}
}

// postJSON posts in to url without credentials (enrollment) and decodes an
// answer of status want into out; any other status is an *APIError.
func postJSON(url string, in any, want int, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := client.CheckResponse(resp, want); err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

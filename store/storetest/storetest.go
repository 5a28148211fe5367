// Package storetest is the conformance suite of the store.Store and
// store.BlobStore contracts (DESIGN.md, "Storage"). Every implementation runs
// it from its own _test.go:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... a new, empty store ... }, storetest.Options{})
//	}
//
// and likewise storetest.RunBlobs for a store.BlobStore. The suite knows
// nothing of any engine: it calls the interfaces only, with times in whole
// seconds (as the server makes them), and checks every method's contract,
// bad input, and races in which many goroutines attempt one transition and
// exactly one must win (Options.SkipRaces skips only those). Alternate and
// AlternateBlobs spread the calls over several handles on the same data, to
// run the suite as two processes or two API nodes would see it.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
)

// Options adapt the suite to an engine.
type Options struct {
	// SkipRaces, when not empty, skips the race tests with this reason: for
	// an engine used to test queries only, whose conditional updates are
	// known not to be atomic (FerretDB v1). A production engine never sets it.
	SkipRaces string
	// Trials is the number of trials of each race test (50 when zero);
	// Racers the number of goroutines in each (32 when zero, at least 6).
	Trials, Racers int
}

func (o Options) trials() int {
	if o.Trials > 0 {
		return o.Trials
	}
	return 50
}

func (o Options) racers() int {
	if o.Racers > 0 {
		return max(o.Racers, 6)
	}
	return 32
}

// Run runs the Store conformance suite. open must return a new, empty store
// for each call and register its clean-up with t.Cleanup; some tests close
// the store themselves, so that clean-up must tolerate a second Close.
func Run(t *testing.T, open func(t *testing.T) store.Store, opts Options) {
	for _, tc := range []struct {
		name string
		f    func(t *testing.T, s store.Store)
	}{
		{"Users", testUsers},
		{"Enrollments", testEnrollments},
		{"Devices", testDevices},
		{"DeviceSet", testDeviceSet},
		{"DevicePlatforms", testDevicePlatforms},
		{"Clients", testClients},
		{"Records", testRecords},
		{"RecordTimes", testRecordTimes},
		{"RecordsToExpire", testRecordsToExpire},
		{"Requests", testRequests},
		{"RequestLists", testRequestLists},
		{"Sessions", testSessions},
		{"SessionsToExpire", testSessionsToExpire},
		{"Nonces", testNonces},
		{"RecordContent", testRecordContent},
		{"CombinedCreate", testCombinedCreate},
		{"CombinedStage", testCombinedStage},
		{"CombinedSeal", testCombinedSeal},
		{"CombinedOpen", testCombinedOpen},
		{"CombinedAsk", testCombinedAsk},
		{"Audit", testAudit},
		{"MasterKeyID", testMasterKeyID},
		{"PushSubscriptions", testPushSubscriptions},
		{"Transfers", testTransfers},
		{"MalformedIDs", testMalformedIDs},
		{"Oversize", testOversize},
		{"Context", testContext},
		{"Closed", testClosed},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, open(t)) })
	}
	t.Run("Races", func(t *testing.T) {
		if opts.SkipRaces != "" {
			t.Skip(opts.SkipRaces)
		}
		testRaces(t, open(t), opts)
		t.Run("PinMasterKeyID", func(t *testing.T) { raceMasterKeyID(t, open(t), opts) })
		t.Run("TakeTransfer", func(t *testing.T) { raceTakeTransfer(t, open(t), opts.racers()) })
	})
}

// t0 is the suite's "now": whole seconds, like every time the server makes.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ctxOf(t *testing.T) context.Context { return t.Context() }

func newID(t testing.TB, prefix string) string {
	t.Helper()
	id, err := ids.New(prefix, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newRecordID(t testing.TB, at time.Time) string {
	t.Helper()
	id, err := ids.NewRecord(rand.Reader, at)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func randomList(n, size int) [][]byte {
	l := make([][]byte, n)
	for i := range l {
		l[i] = random(size)
	}
	return l
}

func keyID() string {
	h := sha256.Sum256(random(32))
	return hex.EncodeToString(h[:16])
}

// want fails the test unless errors.Is(err, target) (target nil: no error).
func want(t testing.TB, err, target error, format string, args ...any) {
	t.Helper()
	what := fmt.Sprintf(format, args...)
	if target == nil {
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return
	}
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

// mustGet reads an object that must exist.
func mustGet[T any](t *testing.T, what string, get func(context.Context, string) (T, error), id string) T {
	t.Helper()
	x, err := get(ctxOf(t), id)
	want(t, err, nil, "%s", what)
	return x
}

// same fails the test when got and want differ (see diff).
func same(t testing.TB, got, want any, format string, args ...any) {
	t.Helper()
	if d := diff(got, want); d != "" {
		t.Fatalf("%s: %s", fmt.Sprintf(format, args...), d)
	}
}

// Fixtures: valid objects with fresh ids, in their first state.

func newUser(t testing.TB, client string) *store.User {
	return &store.User{
		ID: newID(t, ids.User), ClientID: client, ExternalID: "ext-" + newID(t, "x"), DisplayName: "Ada Lovelace",
		ShareWrapped: random(60), ShareVersion: 3, CreatedAt: t0,
	}
}

func newDevice(t testing.TB, user string, created time.Time) *store.Device {
	return &store.Device{
		ID: newID(t, ids.Device), UserID: user, Name: "Ada's phone", OPRFPublicKey: random(32), SigningPublicKey: random(32),
		KeyID: keyID(), State: store.DevicePending, CheckBlinded: randomList(1, 32), CreatedAt: created,
	}
}

func newClient(t testing.TB) *store.Client {
	return &store.Client{
		ID: newID(t, ids.Client), Name: "Clinic", KeyPrefix: newID(t, "k")[2:14], KeyHash: random(32),
		Scopes: []string{"records:write", "users:admin"}, CreatedAt: t0,
	}
}

func newRecord(t testing.TB, user, client string, created time.Time) *store.Record {
	return &store.Record{
		ID: newRecordID(t, created), UserID: user, ClientID: client, Title: "Blood test", ContentType: "application/pdf",
		Purpose: "lab results", CreatedAt: created,
	}
}

func newStaging(t testing.TB, record string, expires time.Time) store.Staging {
	return store.Staging{
		Size: 123456, ContentSHA256: random(32), BlobName: record, Input: random(32), DeviceKeyID: keyID(),
		RequestID: newID(t, ids.Request), ExpiresAt: expires,
	}
}

func newApproval(t testing.TB) store.Approval {
	return store.Approval{DeviceID: newID(t, ids.Device), Statement: random(300), Signature: random(64)}
}

// newEvaluatedApproval is an approval with its evaluation, as a sealed
// record and an open session keep it.
func newEvaluatedApproval(t testing.TB) store.Approval {
	a := newApproval(t)
	a.EvaluatedElements, a.Proof = randomList(1, 32), random(64)
	return a
}

func newSeal(t testing.TB) store.Seal {
	return store.Seal{WrappedDEK: random(60), Approval: newEvaluatedApproval(t), SealedAt: t0}
}

func newEvidence() store.DeviceEvidence {
	return store.DeviceEvidence{EnrollSignature: random(64), EvaluatedElements: randomList(1, 32), Proof: random(64)}
}

func newRequest(t testing.TB, kind, user string, created, expires time.Time) *store.Request {
	q := &store.Request{
		ID: newID(t, ids.Request), Kind: kind, UserID: user, RecordID: newRecordID(t, created), DeviceKeyID: keyID(),
		Requester: store.Requester{ID: newID(t, ids.Client), Name: "Clinic"}, Purpose: "second opinion",
		Record:          store.RequestRecord{Title: "Blood test", ContentType: "application/pdf", Size: 123456, ContentSHA256: random(32)},
		BlindedElements: randomList(1, 32), CreatedAt: created, ExpiresAt: expires, OwnerNode: "node-a",
	}
	if kind == store.KindAccess {
		q.SessionID = newID(t, ids.Session)
	}
	return q
}

func newAnswer(t testing.TB, decision string, at time.Time) store.Answer {
	a := store.Answer{Decision: decision, Approval: newApproval(t), AnsweredAt: at}
	if decision == store.DecisionApprove {
		a.EvaluatedElements, a.Proof = randomList(1, 32), random(64)
	}
	return a
}

func newSession(t testing.TB, user string, created, expires time.Time) *store.Session {
	return &store.Session{
		ID: newID(t, ids.Session), RecordID: newRecordID(t, created), UserID: user, RequesterID: newID(t, ids.Client),
		Purpose: "second opinion", RequestID: newID(t, ids.Request), CreatedAt: created, ExpiresAt: expires,
	}
}

func newOpening(t testing.TB, expires time.Time, downloads int) store.SessionOpening {
	return store.SessionOpening{ExpiresAt: expires, Downloads: downloads, Approval: newEvaluatedApproval(t), OpenedAt: t0}
}

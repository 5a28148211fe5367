package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/ferrettest"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// TestMultiNodeSQLite: two `assent serve` processes share one data
// directory (SQLite file, blob directory, master key), as DESIGN.md's
// Storage allows on one host. Answers that reach the node without the
// pending secrets are handed to the owner; everything is sealed or opened
// once; replays are refused by both nodes.
func TestMultiNodeSQLite(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	a := startNode(t, "node-a", nil, "-data-dir", data)
	b := startNode(t, "node-b", nil, "-data-dir", data)
	tp := newThirdParty(t, nil, "--data-dir", data)

	ph, sealed := handOff(t, a, b, tp)
	blobs := filepath.Join(data, "blobs")
	// A small record: its ciphertext is kept in the database.
	if _, err := os.Stat(filepath.Join(blobs, "blobs", sealed)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the small sealed record's ciphertext is in the blob directory: %v", err)
	}
	// Records too large for the database to keep: their ciphertext is
	// staged in the blob directory.
	large := func(s string) []byte { return bytes.Repeat([]byte(s), store.MaxInlineContent/len(s)+1) }

	t.Run("concurrent answers", func(t *testing.T) { concurrentAnswers(t, ph.on(t), tp.on(t), a, b) })

	t.Run("deny on the other node", func(t *testing.T) {
		ph, tp := ph.on(t), tp.on(t)
		up := tp.upload(b.url, ph.id.UserID, large("unwanted"))
		if _, err := os.Stat(filepath.Join(blobs, "staged", up.RecordID)); err != nil {
			t.Fatalf("no staged ciphertext after the upload: %v", err)
		}
		resp := ph.answer(a.url, up.RequestID, threshold.DecisionDeny)
		if state, status := ph.respond(a.url, up.RequestID, resp); status != http.StatusOK || state != "denied" {
			t.Fatalf("deny through node-a: %d %s", status, state)
		}
		if r := tp.record(b.url, up.RecordID); r.State != "rejected" {
			t.Fatalf("record %s after a deny, want rejected", r.State)
		}
		for _, sub := range []string{"staged", "blobs"} {
			if _, err := os.Stat(filepath.Join(blobs, sub, up.RecordID)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("ciphertext of the rejected record left in %s: %v", sub, err)
			}
		}
		ph.wantEvents(map[string]int{
			store.EventDenied + " " + up.RequestID:        1,
			store.EventRecordRejected + " " + up.RecordID: 1,
			store.EventRecordSealed + " " + up.RecordID:   0,
		}, a.url, b.url)
	})

	t.Run("owner crashed", func(t *testing.T) {
		ph, tp := ph.on(t), tp.on(t)
		// The owner dies with the secrets; the answer still lands on the
		// other node. The record can no longer be sealed: once the owner
		// is back under its node id it ends the record as expired, and
		// deletes the staged ciphertext.
		c := startNode(t, "node-c", nil, "-data-dir", data)
		up := tp.upload(c.url, ph.id.UserID, large("lost with node-c"))
		resp := ph.answer(c.url, up.RequestID, threshold.DecisionApprove)
		c.crash()
		if state, status := ph.respond(b.url, up.RequestID, resp); status != http.StatusOK || state != "approved" {
			t.Fatalf("answer through node-b while the owner is down: %d %s", status, state)
		}
		if r := tp.recordNow(b.url, up.RecordID); r.State != "pending_approval" {
			t.Fatalf("record %s while its owner is down, want pending_approval", r.State)
		}
		c = startNode(t, "node-c", nil, "-data-dir", data)
		if r := tp.record(c.url, up.RecordID); r.State != "expired" {
			t.Fatalf("record %s after its owner restarted, want expired", r.State)
		}
		if _, err := os.Stat(filepath.Join(blobs, "staged", up.RecordID)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("staged ciphertext of the expired record left: %v", err)
		}
		ph.wantEvents(map[string]int{
			store.EventApproved + " " + up.RequestID:     1,
			store.EventRecordExpired + " " + up.RecordID: 1,
			store.EventRecordSealed + " " + up.RecordID:  0,
		}, a.url)
	})
}

// concurrentAnswers posts the same answer, freshly signed twice, at once to
// both nodes, four times: one wins, the other hears 409, the record is
// sealed once, whichever node owns it and whichever node wins.
func concurrentAnswers(t *testing.T, ph *phone, tp *thirdParty, a, b *assentNode) {
	for i, owner := range []*assentNode{a, b, a, b} {
		up := tp.upload(owner.url, ph.id.UserID, []byte{byte(i), 'x'})
		resp := ph.answer(owner.url, up.RequestID, threshold.DecisionApprove)
		type outcome struct {
			state  string
			status int
			err    error
		}
		got := make([]outcome, 2)
		var wg sync.WaitGroup
		for j, c := range []*device.Client{ph.client(a.url, ph.id), ph.client(b.url, ph.id)} {
			wg.Go(func() {
				state, status, err := respond(c, up.RequestID, resp)
				got[j] = outcome{state, status, err}
			})
		}
		wg.Wait()
		won, lost := outcome{"approved", http.StatusOK, nil}, outcome{"conflict", http.StatusConflict, nil}
		if !(got[0] == won && got[1] == lost) && !(got[0] == lost && got[1] == won) {
			t.Fatalf("round %d (owner %s): outcomes %+v, want one approved and one 409 conflict", i, owner.id, got)
		}
		if r := tp.record(a.url, up.RecordID); r.State != "sealed" {
			t.Fatalf("round %d: record %s", i, r.State)
		}
		ph.wantEvents(sealedOnce(up.RecordID, up.RequestID), a.url)
	}
}

// TestMultiNodeMongoDB runs the same hand-off with both nodes on a MongoDB
// store (FerretDB over the wire protocol, in a child process) and GridFS for
// the ciphertext, configured as the issue names it: --store mongodb with
// --mongodb-uri, or $ASSENT_MONGODB_URI. FerretDB answers the queries but
// its conditional updates are not atomic (DESIGN.md, Storage), so no race
// is run here.
func TestMultiNodeMongoDB(t *testing.T) {
	// os.MkdirTemp, not t.TempDir: the Unix socket path must stay short.
	dir, err := os.MkdirTemp("", "amn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	fdb, err := ferrettest.StartProcess(dir)
	if err != nil {
		t.Skipf("FerretDB cannot run here (environment): %v", err)
	}
	t.Cleanup(fdb.Stop)
	uri := fdb.URI()

	// The nodes stand for two hosts: each its own data directory, sharing
	// only the database and the master key (which an operator copies to
	// every node). Nothing picks the blob store: with MongoDB the
	// ciphertext must go where every node reads it.
	tmp := t.TempDir()
	key := filepath.Join(tmp, "master.key")
	// With a shared store no node makes the key: the operator does.
	keyBytes := make([]byte, 32)
	rand.Read(keyBytes)
	if err := os.WriteFile(key, keyBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	dataA, dataB := filepath.Join(tmp, "host-a"), filepath.Join(tmp, "host-b")
	a := startNode(t, "node-a", []string{"ASSENT_MONGODB_URI=" + uri, "ASSENT_MONGODB_DATABASE=assent_mn"},
		"--store", "mongodb", "--data-dir", dataA, "--master-key", key)
	b := startNode(t, "node-b", nil,
		"--store", "mongodb", "--mongodb-uri", uri, "--mongodb-database", "assent_mn", "--data-dir", dataB, "--master-key", key)
	tp := newThirdParty(t, []string{"ASSENT_STORE=mongodb", "ASSENT_MONGODB_URI=" + uri}, "--mongodb-database", "assent_mn")

	handOff(t, a, b, tp)

	for _, dir := range []string{dataA, dataB} {
		if entries, err := os.ReadDir(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a node on MongoDB wrote to its data directory (%v, %v): no SQLite file, no blob directory expected", entries, err)
		}
	}
}

// handOff runs DESIGN.md's Scale-out across nodes a and b of one store: a
// record uploaded through a (a holds its secrets) is approved through b and
// sealed once by a; access asked through b is approved through a and opened
// once by b, which alone serves the content. The device's answers, sent
// again byte for byte to either node, are refused (401: the nonce is in the
// store's replay cache); sent again freshly signed, they are refused as
// answered (409). It returns the phone and the sealed record.
func handOff(t *testing.T, a, b *assentNode, tp *thirdParty) (*phone, string) {
	user := tp.newUser(a.url)
	ph := enroll(t, a.url, user.EnrollmentCode)
	nodes := []*assentNode{a, b}

	// Create: secrets on a, answer on b.
	content := []byte("haemoglobin 14.1 g/dL: uploaded to node-a, approved through node-b")
	up := tp.upload(a.url, user.UserID, content)
	sent := ph.handle(b.url, up.RequestID)
	answered := time.Now()
	r := tp.record(b.url, up.RecordID)
	if r.State != "sealed" {
		t.Fatalf("record %s after the answer reached node-b, want sealed by node-a", r.State)
	}
	t.Logf("sealed, as seen on node-b, %v after node-b took the answer", time.Since(answered).Round(time.Millisecond))
	r = tp.record(a.url, up.RecordID)
	if r.State != "sealed" || r.Approval == nil || r.Approval.DeviceID != ph.id.DeviceID ||
		threshold.Verify(ph.id.SigningPublicKey(), r.Approval.Statement, r.Approval.Signature) != nil {
		t.Fatalf("record on node-a: %+v, want sealed with the device's verifiable approval", r)
	}
	refuseReplays(t, ph, sent, up.RequestID, nodes)
	ph.wantEvents(sealedOnce(up.RecordID, up.RequestID), a.url, b.url)

	// Access: secrets on b, answer on a.
	acc := tp.askAccess(b.url, up.RecordID)
	sent = ph.handle(a.url, acc.RequestID)
	if s := tp.session(a.url, acc.SessionID); s.State != "open" || s.DownloadsLeft != 1 {
		t.Fatalf("session on node-a: %+v, want open by node-b with one download", s)
	}
	// Only the node holding the session's key serves it (documented 409).
	tp.do(http.MethodGet, a.url+"/v1/sessions/"+acc.SessionID+"/content", nil).wantError(t, http.StatusConflict, "conflict")
	got := tp.do(http.MethodGet, b.url+"/v1/sessions/"+acc.SessionID+"/content", nil)
	if !bytes.Equal(got.want(t, http.StatusOK), content) {
		t.Fatalf("content from node-b differs: %q", got.body)
	}
	sum := sha256.Sum256(content)
	if d := got.header.Get("Repr-Digest"); d != "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":" {
		t.Errorf("Repr-Digest %q", d)
	}
	tp.do(http.MethodGet, b.url+"/v1/sessions/"+acc.SessionID+"/content", nil).wantError(t, http.StatusGone, "gone")
	refuseReplays(t, ph, sent, acc.RequestID, nodes)
	ph.wantEvents(openedOnce(acc.SessionID, acc.RequestID), a.url, b.url)
	return ph, up.RecordID
}

// refuseReplays sends the device's answer sent to reqID to every node
// again: byte for byte (401, whichever node saw the nonce), then freshly
// signed (409: answered).
func refuseReplays(t *testing.T, ph *phone, sent *sentRequest, reqID string, nodes []*assentNode) {
	t.Helper()
	var resp device.Response
	if err := json.Unmarshal(sent.body, &resp); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		sent.replay(t, n.url).wantError(t, http.StatusUnauthorized, "unauthenticated")
		if code, status := ph.respond(n.url, reqID, &resp); status != http.StatusConflict || code != "conflict" {
			t.Errorf("fresh copy of the answer to %s through %s: %d %s, want 409 conflict", reqID, n.id, status, code)
		}
	}
}

// TestServeMongoDBFlags: the MongoDB settings answer to the names the
// issue gives (-mongodb-uri, $ASSENT_MONGODB_URI) as well as the -store-*
// ones, with a flag over a variable, and a URI is never ignored or echoed.
func TestServeMongoDBFlags(t *testing.T) {
	const uri = "mongodb://user:s3cret@db.example:27017/"
	for _, env := range []string{"ASSENT_STORE_URI", "ASSENT_MONGODB_URI", "ASSENT_STORE_DATABASE", "ASSENT_MONGODB_DATABASE", "ASSENT_STORE"} {
		t.Setenv(env, "")
		os.Unsetenv(env)
	}
	cfg, err := serveConfig([]string{"--store", "mongodb", "--mongodb-uri", uri, "--mongodb-database", "records"}, io.Discard)
	if err != nil || cfg.StoreURI != uri || cfg.StoreDatabase != "records" {
		t.Fatalf("flags: %v %q %q", err, cfg.StoreURI, cfg.StoreDatabase)
	}

	t.Setenv("ASSENT_MONGODB_URI", uri)
	t.Setenv("ASSENT_MONGODB_DATABASE", "from-env")
	cfg, err = serveConfig([]string{"--store", "mongodb"}, io.Discard)
	if err != nil || cfg.StoreURI != uri || cfg.StoreDatabase != "from-env" {
		t.Fatalf("environment: %v %q %q", err, cfg.StoreURI, cfg.StoreDatabase)
	}
	cfg, err = serveConfig([]string{"--store", "mongodb", "--store-uri", "mongodb://other/", "--store-database", "flag"}, io.Discard)
	if err != nil || cfg.StoreURI != "mongodb://other/" || cfg.StoreDatabase != "flag" {
		t.Fatalf("a flag must win over the variable of the other spelling: %v %q %q", err, cfg.StoreURI, cfg.StoreDatabase)
	}

	// A URI with the SQLite store would leave the node on a file of its
	// own while its peers share MongoDB: refused, without quoting the URI.
	_, err = serveConfig(nil, io.Discard)
	if !errors.Is(err, errUsage) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("URI without --store mongodb: %v, want a usage error without the URI", err)
	}
	err = runAdmin(t.Context(), []string{"client", "create", "--name", "x", "--scopes", "users:admin"}, io.Discard, io.Discard)
	if !errors.Is(err, errUsage) || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("admin with a URI but no --store mongodb: %v, want a usage error without the URI", err)
	}

	t.Setenv("ASSENT_STORE_URI", "mongodb://another/")
	_, err = serveConfig([]string{"--store", "mongodb"}, io.Discard)
	if !errors.Is(err, errUsage) || strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "another") {
		t.Errorf("both URI variables, differing: %v, want a usage error without the URIs", err)
	}
	t.Setenv("ASSENT_STORE_URI", "")
	os.Unsetenv("ASSENT_STORE_URI")
	t.Setenv("ASSENT_MONGODB_URI", "")
	os.Unsetenv("ASSENT_MONGODB_URI")
	if _, err := serveConfig([]string{"--store", "mongodb"}, io.Discard); !errors.Is(err, errUsage) {
		t.Errorf("--store mongodb without a URI: %v, want a usage error", err)
	}

	var help bytes.Buffer
	serveConfig([]string{"-h"}, &help)
	for _, want := range []string{"-mongodb-uri", "$ASSENT_MONGODB_URI", "-mongodb-database", "$ASSENT_MONGODB_DATABASE", "-store-uri"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("serve -h does not mention %s", want)
		}
	}
	if strings.Contains(help.String(), "s3cret") {
		t.Error("serve -h shows the URI")
	}
}

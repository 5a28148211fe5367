package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/threshold"
)

// tryCall is thirdParty.call for a goroutine under load: it returns what
// goes wrong instead of failing the test.
func (p *thirdParty) tryCall(ctx context.Context, method, url string, body []byte, json_ bool, status int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+p.key)
	if json_ {
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != status {
		return fmt.Errorf("%s %s: status %d: %s", method, url, resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}

// sealedRecord is a record a client saw sealed, with its content.
type sealedRecord struct {
	id      string
	content []byte
	ph      *phone
}

// TestSealedSurvivesSIGKILL kills a real `assent serve` (SIGKILL) while
// clients seal records concurrently through it, restarts it on the same
// data directory, and finds every record a client saw as sealed still
// sealed, with its device's verifiable approval, and opening to its
// content with a new approval: what the server acknowledged (its answers
// come only after the group commit holding the change is durable) is
// never lost.
func TestSealedSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	data := filepath.Join(t.TempDir(), "data")
	args := []string{"-data-dir", data, "-single-node"}
	node := startNode(t, "node-1", nil, args...)
	tp := newThirdParty(t, nil, "--data-dir", data)

	const workers = 8
	phones := make([]*phone, workers)
	users := make([]string, workers)
	for w := range phones {
		u := tp.newUser(node.url)
		phones[w], users[w] = enroll(t, node.url, u.EnrollmentCode), u.UserID
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var (
		mu     sync.Mutex
		sealed []sealedRecord
		total  atomic.Int64
		wg     sync.WaitGroup
	)
	approve := func(context.Context, *device.Prompt) (device.Decision, error) { return device.Approve, nil }
	for w := range workers {
		ph := phones[w]
		agent, err := device.NewAgent(ph.client(node.url, ph.id), ph.ledger, approve, device.AgentOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				content := fmt.Appendf(nil, "worker %d record %d: %s", w, i, bytes.Repeat([]byte{'x'}, 4000))
				rid, err := sealOne(ctx, tp, agent, node.url, users[w], content)
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				sealed = append(sealed, sealedRecord{rid, content, ph})
				mu.Unlock()
				total.Add(1)
			}
		})
	}
	// Kill the server mid-load, once a fair number of records are sealed.
	started := time.Now()
	deadline := started.Add(time.Minute)
	for total.Load() < 60 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("%d sealed in %v", total.Load(), time.Since(started))
	t0 := time.Now()
	node.crash()
	// The device agents retry a lost answer until its request expires:
	// stop them.
	cancel()
	wg.Wait()
	t.Logf("clients stopped %v after the kill", time.Since(t0))
	mu.Lock()
	seen := sealed
	mu.Unlock()
	if len(seen) < 8 {
		t.Fatalf("only %d records sealed before the kill", len(seen))
	}
	t.Logf("%d records seen sealed before SIGKILL", len(seen))

	t0 = time.Now()
	node = startNode(t, "node-1", nil, args...)
	t.Logf("restarted in %v", time.Since(t0))
	for _, r := range seen {
		got := tp.recordNow(node.url, r.id)
		if got.State != "sealed" || got.Approval == nil || got.Approval.DeviceID != r.ph.id.DeviceID ||
			threshold.Verify(r.ph.id.SigningPublicKey(), got.Approval.Statement, got.Approval.Signature) != nil {
			t.Fatalf("record %s after the restart: %+v, want sealed with its device's approval", r.id, got)
		}
	}
	// Each opens again with a new approval, to its content (a sample of
	// every worker's, the last ones sealed before the kill included).
	opened := 0
	for i := len(seen) - 1; i >= 0; i-- {
		r := seen[i]
		if i%4 != 0 && i < len(seen)-workers {
			continue
		}
		acc := tp.askAccess(node.url, r.id)
		r.ph.on(t).handle(node.url, acc.RequestID)
		if s := tp.session(node.url, acc.SessionID); s.State != "open" {
			t.Fatalf("session of %s: %s, want open", r.id, s.State)
		}
		got := tp.do(http.MethodGet, node.url+"/v1/sessions/"+acc.SessionID+"/content", nil).want(t, http.StatusOK)
		if !bytes.Equal(got, r.content) {
			t.Fatalf("record %s opened to other content", r.id)
		}
		opened++
	}
	t.Logf("%d of them opened again in %v", opened, time.Since(t0))
}

// sealOne creates a record of uid through node, uploads content, has the
// device approve it and returns its id once the server says it is sealed.
func sealOne(ctx context.Context, tp *thirdParty, agent *device.Agent, node, uid string, content []byte) (string, error) {
	var r, up, got apiIDs
	meta, _ := json.Marshal(map[string]string{"title": "Blood test", "content_type": "text/plain", "purpose": "results"})
	if err := tp.tryCall(ctx, http.MethodPost, node+"/v1/users/"+uid+"/records", meta, true, http.StatusCreated, &r); err != nil {
		return "", err
	}
	if err := tp.tryCall(ctx, http.MethodPut, node+"/v1/records/"+r.RecordID+"/content", content, false, http.StatusAccepted, &up); err != nil {
		return "", err
	}
	if _, err := agent.Handle(ctx, up.RequestID); err != nil {
		return "", err
	}
	if err := tp.tryCall(ctx, http.MethodGet, node+"/v1/records/"+r.RecordID+"?wait=20", nil, true, http.StatusOK, &got); err != nil {
		return "", err
	}
	if got.State != "sealed" {
		return "", errors.New("record " + r.RecordID + " is " + got.State)
	}
	return r.RecordID, nil
}

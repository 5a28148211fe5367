package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-dev/assent/oprf"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// TestDropClaimedSecrets: dropping claimed secrets (the sweeper at their
// expiry, or shutdown) leaves them whole for the claimant, who destroys
// them when it lets go; nobody can claim them again meanwhile.
func TestDropClaimedSecrets(t *testing.T) {
	for _, release := range []string{"finish", "unclaim"} {
		t.Run(release, func(t *testing.T) {
			tab := newPendingTable()
			b, err := oprf.Blind(rand.Reader, [][]byte{[]byte("x")})
			if err != nil {
				t.Fatal(err)
			}
			dek := bytes.Repeat([]byte{7}, threshold.KeySize)
			tab.put("req", &pendingSecrets{dek: bytes.Clone(dek), blinding: b, expires: time.Now()})
			p, res := tab.claim("req")
			if res != claimed {
				t.Fatal(res)
			}
			tab.drop("req")
			tab.expire(time.Now().Add(time.Hour))
			if ids := tab.clearAll(); len(ids) != 0 {
				t.Errorf("clearAll counted %d live entries, want 0 (the one left is doomed)", len(ids))
			}
			if !bytes.Equal(p.dek, dek) || p.blinding == nil || len(p.blinding.Elements()) != 1 {
				t.Fatal("dropping claimed secrets cleared them under their claimant")
			}
			if _, res := tab.claim("req"); res != missing {
				t.Fatalf("doomed secrets claimed again: %v", res)
			}
			if release == "finish" {
				tab.finish("req", p)
			} else {
				tab.unclaim("req", p)
			}
			if p.dek != nil || p.blinding != nil || tab.has("req") {
				t.Fatal("the claimant's release did not destroy doomed secrets")
			}
		})
	}
}

// hookStore runs hook (once armed) inside GetUser, which processing an
// approval calls while it holds the request's secrets.
type hookStore struct {
	store.Store
	hook atomic.Pointer[func()]
}

func (s *hookStore) GetUser(ctx context.Context, id string) (*store.User, error) {
	if h := s.hook.Swap(nil); h != nil {
		(*h)()
	}
	return s.Store.GetUser(ctx, id)
}

// TestSweepAtBoundaryDuringProcessing: an approval that came in time is
// being processed when the clock reaches its record's deadline and the
// sweeper runs. The sweeper ends the record, but the processing in flight
// must neither read cleared secrets nor leave any behind, and nothing
// panics.
func TestSweepAtBoundaryDuringProcessing(t *testing.T) {
	hs := &hookStore{}
	e := newEnv(t, nil, func(d *Deps) { hs.Store = d.Store; d.Store = hs })
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	p := e.upload(t, rid, []byte("at the boundary"))
	q := d.request(t, p.RequestID)
	// The answer arrives in the request's last second.
	e.clock.Advance(q.ExpiresAt.Sub(e.clock.Now()) - time.Second)
	swept := make(chan error, 1)
	hook := func() {
		// The record's deadline, exactly: the request's expiry plus the
		// processing grace.
		e.clock.Advance(time.Second + processingGrace)
		swept <- e.srv.sweep(context.Background())
	}
	hs.hook.Store(&hook)
	// On a single node the answer is stored with the seal, after the key
	// is wrapped: the sweep in between expires the request, and the device
	// hears 410. Where the answer is stored first, it hears 200.
	if res := d.answer(t, q, threshold.DecisionApprove); res.status != 200 && res.status != 410 {
		t.Fatalf("status %d, want 200 or 410; body %s", res.status, res.body)
	}
	if err := <-swept; err != nil {
		t.Fatal(err)
	}
	if r := e.record(t, rid, e.writer, ""); r.State != store.RecordExpired && r.State != store.RecordSealed {
		t.Fatalf("record is %s", r.State)
	}
	if e.srv.pending.len() != 0 {
		t.Error("secrets left behind")
	}
	logs := e.logs.String()
	if strings.Contains(logs, "processing the answer failed") || strings.Contains(logs, "panicked") {
		t.Errorf("processing used secrets the sweeper cleared:\n%s", logs)
	}
}

// TestSweepRacesAnswers runs answers and sweeps at once with the clock at
// the records' deadline, for the race detector; every record ends sealed
// or expired, no secret is left, and nothing panics.
func TestSweepRacesAnswers(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ApprovalTTL = time.Minute })
	d := e.userWithDevice(t)
	const n = 6
	var rids []string
	var reqs []wireRequest
	for range n {
		rid := e.createRecord(t, d.userID)
		rids = append(rids, rid)
		reqs = append(reqs, d.request(t, e.upload(t, rid, []byte("race")).RequestID))
	}
	e.clock.Advance(time.Minute - time.Second)
	bodies := make([]wireAnswer, n)
	for i, q := range reqs {
		bodies[i] = d.answerBody(t, q, threshold.DecisionApprove)
	}
	var wg sync.WaitGroup
	for i, q := range reqs {
		wg.Go(func() { d.post(t, q.RequestID, bodies[i]) })
	}
	wg.Go(func() {
		e.clock.Advance(time.Second + processingGrace)
		for range 20 {
			if err := e.srv.sweep(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	for range 50 {
		if e.srv.pending.len() == 0 {
			break
		}
		_ = e.srv.sweep(context.Background())
		time.Sleep(20 * time.Millisecond)
	}
	for _, rid := range rids {
		if r := e.record(t, rid, e.writer, ""); r.State != store.RecordExpired && r.State != store.RecordSealed {
			t.Errorf("record %s is %s", rid, r.State)
		}
	}
	if e.srv.pending.len() != 0 {
		t.Error("secrets left behind")
	}
	if n := e.srv.BackgroundPanics(); n != 0 || strings.Contains(e.logs.String(), "panicked") {
		t.Errorf("%d panics", n)
	}
}

// TestBackgroundPanicRecovered: a loop whose work panics logs it, counts
// it and runs again on its next tick.
func TestBackgroundPanicRecovered(t *testing.T) {
	e := newEnv(t, nil)
	var calls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	e.srv.loop(ctx, time.Millisecond, "test loop", func(context.Context) error {
		calls.Add(1)
		var m map[string]*pendingSecrets
		m["x"].done = true // a nil map and a nil pointer: panics
		return nil
	})
	deadline := time.Now().Add(5 * time.Second)
	for calls.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if calls.Load() < 3 || e.srv.BackgroundPanics() < 2 {
		t.Fatalf("%d calls, %d panics counted", calls.Load(), e.srv.BackgroundPanics())
	}
	if !strings.Contains(e.logs.String(), "test loop panicked") {
		t.Error("the panic was not logged")
	}
}

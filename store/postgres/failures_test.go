package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/postgres/pgtest"
)

// The failures of the issue: the server gone or silent mid-run, connections
// killed by the server, a statement over its timeout. Every call fails with
// ErrUnavailable within a bound, a failed call changes nothing, and the
// store works again, with everything written before, once the cause is gone.

// failOpts are short timeouts, so that the tests are quick; outageBound is
// how long any call may take meanwhile (ten times the bound the options
// imply, for a loaded machine: the test is that calls fail at all rather
// than hang).
var failOpts = Options{ConnectTimeout: 500 * time.Millisecond, StatementTimeout: 500 * time.Millisecond}

const outageBound = 15 * time.Second

func newRecord(t testing.TB) *store.Record {
	t.Helper()
	rid, err := ids.NewRecord(rand.Reader, t0)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := ids.New(ids.User, rand.Reader)
	cid, _ := ids.New(ids.Client, rand.Reader)
	return &store.Record{ID: rid, UserID: uid, ClientID: cid, Title: "t", ContentType: "text/plain", CreatedAt: t0}
}

func wantUnavailable(t *testing.T, what string, f func() error) {
	t.Helper()
	start := time.Now()
	err := f()
	if took := time.Since(start); took > outageBound {
		t.Errorf("%s took %v, over %v", what, took, outageBound)
	}
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("%s: err = %v, want ErrUnavailable", what, err)
	}
}

// checkDown checks that reads, writes, blobs and Ping fail with
// ErrUnavailable, and returns a record whose creation was refused.
func checkDown(t *testing.T, s *Store, existing string) *store.Record {
	t.Helper()
	refused := newRecord(t)
	wantUnavailable(t, "GetRecord", func() error { _, err := s.GetRecord(t.Context(), existing); return err })
	wantUnavailable(t, "CreateRecord", func() error { return s.CreateRecord(t.Context(), refused) })
	wantUnavailable(t, "EndRecord", func() error { return s.EndRecord(t.Context(), existing, store.RecordRejected, t0) })
	wantUnavailable(t, "Stage", func() error { _, err := s.Blobs().Stage(t.Context(), "down"); return err })
	wantUnavailable(t, "Ping", func() error { return s.Ping(t.Context()) })
	return refused
}

// checkUp waits (within outageBound) for the store to answer again, then
// checks that neither the refused record nor the refused transition
// happened and that writes work.
func checkUp(t *testing.T, s *Store, existing string, refused *store.Record) {
	t.Helper()
	deadline := time.Now().Add(outageBound)
	for err := s.Ping(t.Context()); err != nil; err = s.Ping(t.Context()) {
		if time.Now().After(deadline) {
			t.Fatalf("Ping once the cause is gone: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r, err := s.GetRecord(t.Context(), existing)
	if err != nil || r.State != store.RecordAwaitingUpload {
		t.Fatalf("record once the cause is gone: %v, %v", r, err)
	}
	if _, err := s.GetRecord(t.Context(), refused.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("record refused meanwhile: err = %v, want ErrNotFound", err)
	}
	if err := s.CreateRecord(t.Context(), newRecord(t)); err != nil {
		t.Fatalf("CreateRecord once the cause is gone: %v", err)
	}
	if _, err := s.Blobs().Open(t.Context(), "down"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("blob staged while down: %v", err)
	}
}

// withProxy opens a store on a fresh schema through a proxy, with one
// record in it.
func withProxy(t *testing.T) (*pgtest.Proxy, *Store, string) {
	t.Helper()
	url := pgtest.Schema(t)
	p := pgtest.NewProxy(t)
	s := openURL(t, p.URL(url), failOpts)
	r := newRecord(t)
	if err := s.CreateRecord(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return p, s, r.ID
}

// TestServerGone: the server goes away (connections reset, new ones
// refused), as when it is stopped or restarted.
func TestServerGone(t *testing.T) {
	p, s, id := withProxy(t)
	p.Cut()
	refused := checkDown(t, s, id)
	p.Restore()
	checkUp(t, s, id, refused)
}

// TestServerSilent: the network path goes silent, connections stay open
// and nothing answers; only the client-side bounds end the calls.
func TestServerSilent(t *testing.T) {
	p, s, id := withProxy(t)
	p.Stall()
	refused := checkDown(t, s, id)
	p.Restore()
	checkUp(t, s, id, refused)
}

// TestOutageUnderLoad cuts the server while writers run, then restores it:
// every write either succeeded (and is there afterwards) or failed with
// ErrUnavailable, and none is lost.
func TestOutageUnderLoad(t *testing.T) {
	p, s, _ := withProxy(t)
	var mu sync.Mutex
	var ok []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := newRecord(t)
				err := s.CreateRecord(context.Background(), r)
				switch {
				case err == nil:
					mu.Lock()
					ok = append(ok, r.ID)
					mu.Unlock()
				case !errors.Is(err, store.ErrUnavailable):
					t.Errorf("CreateRecord during the outage: %v", err)
					return
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	p.Cut()
	time.Sleep(time.Second)
	p.Restore()
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(ok) == 0 {
		t.Fatal("no write succeeded")
	}
	for _, id := range ok {
		if _, err := s.GetRecord(t.Context(), id); err != nil {
			t.Fatalf("record %s reported created is not there: %v", id, err)
		}
	}
}

// backends returns the pids of the server processes serving connections
// whose application_name is app.
func backends(t *testing.T, app string) []int {
	t.Helper()
	c := pgtest.Connect(t)
	rows, err := c.Query(t.Context(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// TestKilledConnections terminates every connection of the store on the
// server (pg_terminate_backend, as an administrator or a failover would):
// calls fail with ErrUnavailable or succeed, never anything else; the
// store reconnects by itself; nothing written before is lost.
func TestKilledConnections(t *testing.T) {
	app := "assent_kill_" + strings.ToLower(rand.Text()[:8])
	url := pgtest.Schema(t) + "&application_name=" + app
	s := openURL(t, url, failOpts)
	r := newRecord(t)
	if err := s.CreateRecord(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	// Fill the pool with several connections.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { _ = s.Ping(t.Context()) })
	}
	wg.Wait()
	for round := range 3 {
		pids := backends(t, app)
		if len(pids) == 0 {
			t.Fatal("no connection of the store found on the server")
		}
		c := pgtest.Connect(t)
		for _, pid := range pids {
			if _, err := c.Exec(t.Context(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
				t.Fatal(err)
			}
		}
		// A write on a dead connection may fail (it was sent; whether
		// it ran is unknown to the client), but only with ErrUnavailable.
		failed := 0
		for i := range 10 {
			switch err := s.CreateRecord(t.Context(), newRecord(t)); {
			case err == nil:
			case errors.Is(err, store.ErrUnavailable):
				failed++
			default:
				t.Fatalf("round %d, write %d after the kill: %v", round, i, err)
			}
		}
		// Reads are tried again on another connection: none fails, also
		// when dead connections are left in the pool.
		for i := range 10 {
			if _, err := s.GetRecord(t.Context(), r.ID); err != nil {
				t.Fatalf("round %d, read %d after the kill: %v", round, i, err)
			}
		}
		if failed > len(pids) {
			t.Errorf("round %d: %d of 10 writes failed after %d connections were killed; each dead connection should fail at most one", round, failed, len(pids))
		}
		t.Logf("round %d: %d connections killed, %d of 10 writes failed", round, len(pids), failed)
	}
	got, err := s.GetRecord(t.Context(), r.ID)
	if err != nil || got.State != store.RecordAwaitingUpload {
		t.Fatalf("record after the kills: %v, %v", got, err)
	}
}

// TestStatementTimeout holds a lock on the records table from another
// session, so the store's statements wait on it: each ends at the statement
// timeout with ErrUnavailable, having changed nothing, and the store works
// as soon as the lock is gone.
func TestStatementTimeout(t *testing.T) {
	s, url := openTest(t, failOpts)
	r := newRecord(t)
	if err := s.CreateRecord(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	c := pgtest.Connect(t)
	schema := url[strings.Index(url, "search_path=")+len("search_path="):]
	if i := strings.IndexByte(schema, '&'); i >= 0 {
		schema = schema[:i]
	}
	tx, err := c.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(t.Context(), "LOCK TABLE "+schema+".records IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	refused := newRecord(t)
	for what, f := range map[string]func() error{
		"GetRecord":    func() error { _, err := s.GetRecord(t.Context(), r.ID); return err },
		"CreateRecord": func() error { return s.CreateRecord(t.Context(), refused) },
		"EndRecord":    func() error { return s.EndRecord(t.Context(), r.ID, store.RecordRejected, t0) },
	} {
		start := time.Now()
		wantUnavailable(t, what, f)
		if took := time.Since(start); took < failOpts.StatementTimeout/2 {
			t.Errorf("%s failed after %v, before the statement timeout: not waiting on the lock?", what, took)
		}
	}
	// Another table is not held up meanwhile.
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping while records is locked: %v", err)
	}
	if err := tx.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	checkUp(t, s, r.ID, refused)
}

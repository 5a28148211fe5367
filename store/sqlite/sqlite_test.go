package sqlite

import (
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/storetest"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// rawDB opens the database file directly, as another program would.
func rawDB(t testing.TB, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, FileName)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

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

func TestPermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "dir")
	s := openTest(t, dir, Options{})
	if err := s.CreateRecord(t.Context(), newRecord(t)); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{
		dir:                                 0o700 | os.ModeDir,
		filepath.Join(dir, FileName):        0o600,
		filepath.Join(dir, FileName+"-wal"): 0o600,
		filepath.Join(dir, FileName+"-shm"): 0o600,
	} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", name, fi.Mode(), want)
		}
	}
	var mode string
	if err := rawDB(t, dir).QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q, %v", mode, err)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	r := newRecord(t)
	if err := s.CreateRecord(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir, Options{})
	if _, err := s.GetRecord(t.Context(), r.ID); err != nil {
		t.Fatalf("record after reopening: %v", err)
	}
}

// TestOpenConcurrently opens one new database from many goroutines at once,
// as processes starting together would: the schema is made once and all
// of them work.
func TestOpenConcurrently(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	stores := make([]*Store, 8)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(t.Context(), dir) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("Open %d: %v", i, errs[i])
		}
		defer s.Close()
		if err := s.CreateRecord(t.Context(), newRecord(t)); err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
	}
}

func TestSchemaVersions(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	r := newRecord(t)
	if err := s.CreateRecord(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// A binary with one more migration upgrades the file once, keeping the
	// data.
	saved := migrations
	migrations = append(slicesClone(saved), `CREATE TABLE later (x INTEGER); INSERT INTO later VALUES (42);`)
	s2, err := Open(t.Context(), dir)
	if err != nil {
		migrations = saved
		t.Fatalf("Open with a newer schema: %v", err)
	}
	s2.Close()
	s2, err = Open(t.Context(), dir) // no second migration
	migrations = saved
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	var n, version int
	db := rawDB(t, dir)
	if err := db.QueryRow("SELECT count(*) FROM later").Scan(&n); err != nil || n != 1 {
		t.Fatalf("migration ran %d times (%v)", n, err)
	}
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(saved)+1 {
		t.Fatalf("user_version %d (%v)", version, err)
	}
	db.Close()

	// This binary refuses the newer file, saying so.
	_, err = Open(t.Context(), dir)
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), fmt.Sprintf("version %d", len(saved)+1)) {
		t.Fatalf("Open of a newer schema: err = %v, want ErrNewerSchema naming the version", err)
	}
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

func TestNotAssent(t *testing.T) {
	other := t.TempDir()
	db := rawDB(t, other)
	if _, err := db.Exec("CREATE TABLE notes (x TEXT)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(t.Context(), other); !errors.Is(err, ErrNotAssent) {
		t.Fatalf("Open of another application's database: err = %v", err)
	}

	garbage := t.TempDir()
	if err := os.WriteFile(filepath.Join(garbage, FileName), []byte(strings.Repeat("not a database ", 400)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), garbage); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open of a file that is not a database: err = %v", err)
	}

	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(t.Context(), notDir); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open under a file: err = %v", err)
	}
}

// TestAuditTamper edits and removes rows behind the store's back: the chain
// read back no longer verifies.
func TestAuditTamper(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir, Options{})
	user, _ := ids.New(ids.User, rand.Reader)
	for i := range 4 {
		if _, err := s.AppendAudit(t.Context(), &store.AuditEntry{UserID: user, Event: store.EventRecordCreated, Actor: "server", At: t0.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	verify := func() error {
		entries, err := s.AuditEntries(t.Context(), user, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return store.VerifyChain(entries)
	}
	if err := verify(); err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, dir)
	for _, edit := range []string{
		"UPDATE audit SET actor = 'cli_x' WHERE seq = 2",
		"UPDATE audit SET at = at + 1 WHERE seq = 1",
		"DELETE FROM audit WHERE seq = 3",
	} {
		if _, err := db.Exec(edit); err != nil {
			t.Fatal(err)
		}
		if err := verify(); !errors.Is(err, store.ErrChainBroken) {
			t.Fatalf("after %q: %v", edit, err)
		}
	}
	// The unique sequence number refuses a forked entry.
	if _, err := db.Exec("INSERT INTO audit SELECT user_id, 2, event, actor, subject, details, at, prev_hash, hash FROM audit WHERE seq = 1"); err == nil {
		t.Fatal("a second entry with sequence number 2 was accepted")
	}
}

// TestQueryPlans runs the conformance suite, then asks SQLite how it runs
// every statement the store prepared: none may scan a whole table or sort
// its result, so their cost does not grow with the number of rows.
func TestQueryPlans(t *testing.T) {
	var mu sync.Mutex
	var stores []*Store
	storetest.Run(t, func(t *testing.T) store.Store {
		s := openTest(t, t.TempDir(), Options{SyncNormal: true})
		mu.Lock()
		stores = append(stores, s)
		mu.Unlock()
		return s
	}, storetest.Options{Trials: 1, Racers: 2})
	queries := map[string]bool{}
	for _, s := range stores {
		for q := range s.reader.stmts {
			queries[q] = true
		}
		for _, q := range s.writerStatements() {
			queries[q] = true
		}
	}
	if len(queries) < 30 {
		t.Fatalf("only %d statements seen", len(queries))
	}
	dir := t.TempDir()
	openTest(t, dir, Options{})
	db := rawDB(t, dir)
	for q := range queries {
		// Listing every client (assent admin client list) reads the whole,
		// small, table by definition.
		if strings.HasPrefix(q, "SELECT "+clientColumns+" FROM clients ORDER BY") {
			continue
		}
		args := make([]any, strings.Count(q, "?"))
		rows, err := db.Query("EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") || strings.Contains(step, "TEMP B-TREE") {
				t.Errorf("%s\n\tplan: %s", strings.Join(strings.Fields(q), " "), strings.Join(plan, "; "))
				break
			}
		}
	}
}

// TestPlatformMigration: a database written before devices had a platform
// (schema version 5) keeps its devices through migration 6, each with no
// platform, and takes new devices with one.
func TestPlatformMigration(t *testing.T) {
	dir := t.TempDir()
	saved := migrations
	migrations = saved[:5]
	s, err := Open(t.Context(), dir)
	migrations = saved
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	user, _ := ids.New(ids.User, rand.Reader)
	old, _ := ids.New(ids.Device, rand.Reader)
	db := rawDB(t, dir)
	if _, err := db.Exec(`INSERT INTO devices (id, user_id, name, oprf_public_key, signing_public_key, key_id, state, created_at)
		VALUES (?, ?, 'old phone', ?, ?, ?, 'pending', ?)`, old, user, make([]byte, 32), make([]byte, 32), strings.Repeat("ab", 16), t0.UnixNano()); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s2 := openTest(t, dir, Options{})
	d, err := s2.GetDevice(t.Context(), old)
	if err != nil {
		t.Fatal(err)
	}
	if d.Platform != "" || d.Name != "old phone" {
		t.Fatalf("device from before migration 6: platform %q, name %q", d.Platform, d.Name)
	}
	web, _ := ids.New(ids.Device, rand.Reader)
	if err := s2.CreateDevice(t.Context(), &store.Device{ID: web, UserID: user, Name: "browser", OPRFPublicKey: make([]byte, 32),
		SigningPublicKey: make([]byte, 32), KeyID: strings.Repeat("cd", 16), State: store.DevicePending, Platform: "web", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if d, err := s2.GetDevice(t.Context(), web); err != nil || d.Platform != "web" {
		t.Fatalf("device after migration 6: %+v, %v", d, err)
	}
}

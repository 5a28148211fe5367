package mongo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/assent-dev/assent/internal/ferrettest"
)

// The engine every test of this package runs against: a real MongoDB when
// ASSENT_TEST_MONGODB_URI is set, else one embedded FerretDB per test
// binary, run in a child process (the nested module internal/ferretdb,
// built without the race detector) so that its memory and
// goroutines stay out of what the tests measure. Each test gets a database
// of its own.
var engine struct {
	uri string
	// ferret is the FerretDB of the tests, nil against a real MongoDB.
	ferret *ferrettest.Process
	// unavailable, when not empty, says why no engine could be started;
	// every test then skips with it.
	unavailable string
}

// raceSkip is why the race tests cannot run on the engine ("" on MongoDB).
func raceSkip() string {
	if engine.ferret == nil {
		return ""
	}
	return "FerretDB v1's findAndModify is not atomic, so races run only against a real MongoDB: " +
		"set ASSENT_TEST_MONGODB_URI to run them"
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if uri := os.Getenv("ASSENT_TEST_MONGODB_URI"); uri != "" {
		engine.uri = uri
		return m.Run()
	}
	// Not t.TempDir(): a Unix socket path must stay under about 100 bytes.
	dir, err := os.MkdirTemp("", "assent-ferret-")
	if err != nil {
		engine.unavailable = fmt.Sprintf("no FerretDB: %v", err)
		return m.Run()
	}
	defer os.RemoveAll(dir)
	srv, err := ferrettest.StartProcess(dir)
	if err != nil {
		engine.unavailable = fmt.Sprintf("no FerretDB: %v", err)
		return m.Run()
	}
	defer srv.Stop()
	engine.uri, engine.ferret = srv.URI(), srv
	return m.Run()
}

// needEngine skips the test, saying why, when no engine is reachable.
func needEngine(t testing.TB) {
	t.Helper()
	if engine.unavailable != "" {
		t.Skip(engine.unavailable)
	}
}

// freshDatabase names a database no other test uses.
func freshDatabase(t testing.TB) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "assent_test_" + hex.EncodeToString(b)
}

// openStore opens a Store on a fresh database and drops that database when
// the test ends. The clean-up tolerates a Store the test closed itself.
func openStore(t testing.TB, opts ...Option) *Store {
	t.Helper()
	needEngine(t)
	db := freshDatabase(t)
	t.Cleanup(func() { dropDatabase(t, db) })
	return openDatabase(t, db, opts...)
}

// openDatabase opens another Store on database db, closed when the test
// ends (clean-ups run last-registered first, so before the drop).
func openDatabase(t testing.TB, db string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(t.Context(), engine.uri, db, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// dropDatabase removes a test's database on a connection of its own, since
// the test may have closed its Store.
func dropDatabase(t testing.TB, db string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mongo.Connect(options.Client().ApplyURI(engine.uri))
	if err == nil {
		err = c.Database(db).Drop(ctx)
		c.Disconnect(ctx)
	}
	if err != nil {
		t.Logf("dropping database %s: %v", db, err)
	}
}

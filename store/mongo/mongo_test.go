package mongo

import (
	"context"
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/assent-dev/assent/store"
)

func TestOpenRefusesBadDatabaseNames(t *testing.T) {
	for _, name := range []string{"", "a/b", `a\b`, "a.b", "a b", `a"b`, "a$b", "a\x00b", strings.Repeat("d", 64)} {
		s, err := Open(t.Context(), "mongodb://127.0.0.1:1/", name)
		if !errors.Is(err, store.ErrInvalid) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Open with database name %q: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestOpenRefusesBadURIsWithoutQuotingThem(t *testing.T) {
	const password = "s3cr3t-pa55"
	for _, uri := range []string{
		"",
		"http://user:" + password + "@localhost/",
		"mongodb://user:" + password + "@localhost:notaport/",
		"mongodb://user:" + password + "@localhost/?w=nonsense&journal=maybe",
		"mongodb://user:" + password + "@/",
	} {
		s, err := Open(t.Context(), uri, "assent")
		if !errors.Is(err, store.ErrInvalid) {
			if s != nil {
				s.Close()
			}
			t.Errorf("Open(%q): err = %v, want ErrInvalid", uri, err)
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("Open(%q): the error quotes the password: %v", uri, err)
		}
	}
}

// TestOpenUnreachable: with nothing listening, Open fails with
// ErrUnavailable instead of waiting.
func TestOpenUnreachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	uri := "mongodb://" + url.PathEscape(sock) + "/"
	start := time.Now()
	s, err := Open(t.Context(), uri, "assent", WithServerSelectionTimeout(200*time.Millisecond))
	if !errors.Is(err, store.ErrUnavailable) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open with no server: err = %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > outageBound {
		t.Fatalf("Open with no server took %v", took)
	}
}

// TestIndexes checks that Open creates the indexes that carry the
// contract's uniqueness rules, and that a second Open of the same database
// (another node starting) accepts the existing ones.
func TestIndexes(t *testing.T) {
	s := openStore(t)
	again, err := Open(t.Context(), engine.uri, s.db.Name())
	if err != nil {
		t.Fatalf("second Open of the same database: %v", err)
	}
	again.Close()

	ctx := t.Context()
	for _, ix := range indexes {
		cur, err := s.db.Collection(ix.coll).Indexes().List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var found []struct {
			Name   string `bson:"name"`
			Key    bson.D `bson:"key"`
			Unique bool   `bson:"unique"`
		}
		if err := cur.All(ctx, &found); err != nil {
			t.Fatal(err)
		}
		ok := false
		for _, f := range found {
			if f.Name == ix.name {
				ok = f.Unique == ix.unique && len(f.Key) == len(ix.keys)
				for i := range f.Key {
					ok = ok && i < len(ix.keys) && f.Key[i].Key == ix.keys[i].Key
				}
			}
		}
		if !ok {
			t.Errorf("%s: index %s (unique %v) missing or different: %v", ix.coll, ix.name, ix.unique, found)
		}
	}

	// The audit chain's uniqueness is the index's, not only the code's.
	doc := bson.D{eq("user_id", "usr_x"), eq("seq", int64(1))}
	if _, err := s.audit.InsertOne(ctx, doc); err != nil {
		t.Fatal(err)
	}
	if _, err := s.audit.InsertOne(ctx, doc); !errors.Is(fail("insert", err), store.ErrConflict) {
		t.Fatalf("a second audit entry (usr_x, 1): err = %v, want a duplicate key", err)
	}
}

// TestConcernsOverrideTheURI watches the commands the Store sends: writes
// carry write concern majority and reads read concern majority, even when
// the URI asks for less.
func TestConcernsOverrideTheURI(t *testing.T) {
	needEngine(t)
	var mu sync.Mutex
	commands := map[string]bson.Raw{}
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		mu.Lock()
		defer mu.Unlock()
		if e.DatabaseName != "admin" {
			commands[e.CommandName] = append(bson.Raw(nil), e.Command...)
		}
	}}
	sep := "?"
	if strings.Contains(engine.uri, "?") {
		sep = "&"
	}
	weak := engine.uri + sep + "w=1&readConcernLevel=local"
	if !strings.HasSuffix(engine.uri, "/") && sep == "?" {
		weak = engine.uri + "/" + sep + "w=1&readConcernLevel=local"
	}
	db := freshDatabase(t)
	s, err := Open(t.Context(), weak, db, func(c *config) { c.monitor = monitor })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropDatabase(t, db); s.Close() })

	ctx := t.Context()
	u := newTestUser(t)
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfirmDevice(ctx, "dev_aaaaaaaaaaaaaaaaaaaaaaaaaa", store.DeviceActive, store.DeviceEvidence{EnrollSignature: []byte{1}, EvaluatedElements: [][]byte{{1}}, Proof: []byte{1}}, time.Now()); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ConfirmDevice of an unknown device: %v", err)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"insert", "findAndModify"} {
		cmd, ok := commands[name]
		if !ok {
			t.Fatalf("no %s command seen", name)
		}
		w, err := cmd.LookupErr("writeConcern", "w")
		if err != nil || w.StringValue() != "majority" {
			t.Errorf("%s: write concern %v, want w: majority", name, cmd.Lookup("writeConcern"))
		}
	}
	cmd, ok := commands["find"]
	if !ok {
		t.Fatal("no find command seen")
	}
	if level, err := cmd.LookupErr("readConcern", "level"); err != nil || level.StringValue() != "majority" {
		t.Errorf("find: read concern %v, want level: majority", cmd.Lookup("readConcern"))
	}
}

func TestRedact(t *testing.T) {
	uri := "mongodb://assent:p%40ss@db.example:27017/?authSource=admin"
	msg := redact(errors.New("cannot parse "+uri+" or p@ss or p%40ss"), uri)
	if strings.Contains(msg, "p@ss") || strings.Contains(msg, "p%40ss") {
		t.Fatalf("redact left the password in: %s", msg)
	}
}

package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/store/storetest"
)

// queryLog is a pgx.QueryTracer that keeps every statement text it sees.
type queryLog struct {
	mu      sync.Mutex
	queries map[string]bool
}

func (l *queryLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.mu.Lock()
	l.queries[d.SQL] = true
	l.mu.Unlock()
	return ctx
}

func (l *queryLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// schemaOnly are the statements of Open (migration), run once per start.
// (and their begin and commit).
var schemaOnly = regexp.MustCompile(`assent_schema|pg_tables|pg_advisory|CREATE |ALTER |^(begin|commit|rollback)$`)

var param = regexp.MustCompile(`\$(\d+)`)

// TestQueryPlans runs both conformance suites with a tracer, then asks
// PostgreSQL for the generic plan of every statement the stores ran, with
// sequential scans and sorts priced out of reach: a plan that still holds a
// Seq Scan or a Sort has no index to do without, and its cost would grow
// with the table.
func TestQueryPlans(t *testing.T) {
	log := &queryLog{queries: map[string]bool{}}
	opts := Options{tracer: log, BlobChunkSize: 64 << 10}
	storetest.Run(t, func(t *testing.T) store.Store {
		s, _ := openTest(t, opts)
		return s
	}, storetest.Options{Trials: 1, Racers: 2})
	storetest.RunBlobs(t, func(t *testing.T) store.BlobStore {
		s, _ := openTest(t, opts)
		return s.Blobs()
	}, storetest.Options{Trials: 1, Racers: 2})
	// Touch, which the suite's short uploads never reach.
	s, url := openTest(t, opts)
	w, err := s.Blobs().Stage(t.Context(), "touched")
	if err != nil {
		t.Fatal(err)
	}
	w.(*stagedBlob).touch(w.(*stagedBlob).touched)
	for range nonceSweepEvery {
		_ = s.RememberNonce(t.Context(), "dev_"+strings.Repeat("a", 26), fmt.Sprint(s.writes.Load()), t0.Add(1e9), t0)
	}

	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	for _, set := range []string{"enable_seqscan = off", "enable_sort = off", "plan_cache_mode = force_generic_plan"} {
		if _, err := c.Exec(t.Context(), "SET "+set); err != nil {
			t.Fatal(err)
		}
	}
	// The check can fail: a query by an unindexed column is caught.
	if plan := explain(t, c, `SELECT id FROM records WHERE title = $1 ORDER BY purpose`); !strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "Sort") {
		t.Fatalf("an unindexed query's plan shows no Seq Scan and Sort:\n%s", plan)
	}
	n := 0
	for q := range log.queries {
		if schemaOnly.MatchString(q) || q == "SELECT 1" {
			continue
		}
		n++
		plan := explain(t, c, q)
		if strings.Contains(plan, "Seq Scan") || strings.Contains(plan, "Sort") {
			t.Errorf("%s\n\tplan:\n%s", strings.Join(strings.Fields(q), " "), plan)
		}
	}
	if n < 40 {
		t.Fatalf("only %d statements seen", n)
	}
}

// explain returns the generic plan of q, prepared under a name.
func explain(t *testing.T, c *pgx.Conn, q string) string {
	t.Helper()
	params := 0
	for _, m := range param.FindAllStringSubmatch(q, -1) {
		var k int
		fmt.Sscan(m[1], &k)
		params = max(params, k)
	}
	if _, err := c.Exec(t.Context(), "PREPARE plan_me AS "+q); err != nil {
		t.Fatalf("PREPARE %s: %v", q, err)
	}
	defer c.Exec(context.Background(), "DEALLOCATE plan_me")
	args := strings.TrimSuffix(strings.Repeat("NULL, ", params), ", ")
	if params > 0 {
		args = "(" + args + ")"
	}
	rows, err := c.Query(t.Context(), "EXPLAIN EXECUTE plan_me"+args, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", q, err)
	}
	return "\t\t" + strings.Join(lines, "\n\t\t")
}

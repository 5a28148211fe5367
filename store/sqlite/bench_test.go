package sqlite

import (
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/assent-dev/assent/internal/ids"
)

// populate inserts n records of 1000 users and n open sessions (with
// downloads to spare) in one transaction and returns their ids.
func populate(b *testing.B, s *Store, n int) (records, sessions, users []string) {
	b.Helper()
	tx, err := s.writer.db.BeginTx(b.Context(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	users = make([]string, 1000)
	for i := range users {
		users[i], _ = ids.New(ids.User, rand.Reader)
	}
	client, _ := ids.New(ids.Client, rand.Reader)
	insertRecord, err := tx.Prepare(`INSERT INTO records (id, user_id, client_id, title, content_type, purpose, state, created_at)
		VALUES (?, ?, ?, ?, ?, ?, 'awaiting_upload', ?)`)
	if err != nil {
		b.Fatal(err)
	}
	insertSession, err := tx.Prepare(`INSERT INTO sessions (id, record_id, user_id, requester_id, purpose, request_id, state,
			created_at, expires_at, downloads_left)
		VALUES (?, ?, ?, ?, 'p', 'req_x', 'open', ?, ?, 1000000000)`)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		r := newRecord(b)
		r.UserID, r.ClientID = users[i%len(users)], client
		if _, err := insertRecord.Exec(r.ID, r.UserID, r.ClientID, r.Title, r.ContentType, r.Purpose, timeArg(r.CreatedAt)); err != nil {
			b.Fatal(err)
		}
		sid, _ := ids.New(ids.Session, rand.Reader)
		if _, err := insertSession.Exec(sid, r.ID, r.UserID, client, timeArg(t0), timeArg(t0.Add(24*time.Hour))); err != nil {
			b.Fatal(err)
		}
		records, sessions = append(records, r.ID), append(sessions, sid)
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	// Start from the steady state: the bulk insert checkpointed into the
	// database file and the WAL emptied.
	if _, err := s.writer.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	return records, sessions, users
}

// BenchmarkStore measures point reads, conditional updates (UseDownload)
// and inserts with 10^3 and 10^5 records stored, every commit synced (the
// default). Compare the ns/op of the two sizes: an indexed statement costs
// the same whatever the table size.
func BenchmarkStore(b *testing.B) { benchmarkStore(b, Options{}) }

// BenchmarkStoreSyncNormal is BenchmarkStore with SyncNormal: the cost of
// the statements without the disk's fsync.
func BenchmarkStoreSyncNormal(b *testing.B) { benchmarkStore(b, Options{SyncNormal: true}) }

func benchmarkStore(b *testing.B, opts Options) {
	for _, n := range []int{1e3, 1e5} {
		s := openTest(b, b.TempDir(), opts)
		records, sessions, users := populate(b, s, n)
		ctx := b.Context()
		name := fmt.Sprintf("records=1e%d", len(fmt.Sprint(n))-1)
		b.Run("point-read/"+name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.GetRecord(ctx, records[mrand.IntN(len(records))]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		b.Run("conditional-update/"+name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.UseDownload(ctx, sessions[mrand.IntN(len(sessions))], t0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		b.Run("insert/"+name, func(b *testing.B) {
			for b.Loop() {
				// As the server makes them: UUIDv7 of the current time, for
				// one of many users.
				r := newRecord(b)
				r.ID, _ = ids.NewRecord(rand.Reader, time.Now())
				r.UserID = users[mrand.IntN(len(users))]
				if err := s.CreateRecord(ctx, r); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		})
		b.Run("sweep-batch/"+name, func(b *testing.B) {
			// The sweeper's query, which finds nothing due here: its cost is
			// that of the index lookup, not of the table.
			for b.Loop() {
				if _, err := s.RecordsToExpire(ctx, t0, t0.Add(-time.Hour), 100); err != nil {
					b.Fatal(err)
				}
			}
		})
		s.Close()
	}
}

// BenchmarkGroupCommit measures the writer under concurrent load: 64
// goroutines (on any number of CPUs) each making conditional updates and
// inserts, every commit synced. ops/s is the write path's throughput, and
// commits/op how many calls a commit carries; compare the two across
// changes to the writer, in alternating runs.
func BenchmarkGroupCommit(b *testing.B) {
	s := openTest(b, b.TempDir(), Options{})
	_, sessions, users := populate(b, s, 1e4)
	ctx := b.Context()
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	start := s.Commits()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if i%2 == 0 {
				if _, err := s.UseDownload(ctx, sessions[mrand.IntN(len(sessions))], t0); err != nil {
					b.Error(err)
					return
				}
				continue
			}
			r := newRecord(b)
			r.ID, _ = ids.NewRecord(rand.Reader, time.Now())
			r.UserID = users[mrand.IntN(len(users))]
			if err := s.CreateRecord(ctx, r); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(s.Commits()-start)/float64(b.N), "commits/op")
}

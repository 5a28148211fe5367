package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/assent-dev/assent/store"
)

// Group commit. Every write method hands its statements, as a function of
// one connection, to the Store's one writer goroutine. The writer takes the
// calls that queued while its previous commit was in flight, up to
// Options.BatchSize, and runs them in one BEGIN IMMEDIATE transaction, each
// inside its own SAVEPOINT: a call that fails (a lost race, a constraint)
// is rolled back to its savepoint and fails alone, the others go on. One
// COMMIT, one fsync of the WAL with synchronous=FULL, then makes the whole
// batch durable, and only then does any caller get its result. Under load
// the cost of a commit is shared by the calls of a batch, and the writer
// yields the CPU once or twice before it begins, so that callers that are
// runnable but not yet queued join the batch; a lone call costs what it cost
// before (one transaction, one fsync, no savepoint, no wait).
//
// A storage failure (an I/O error, a full disk, a read-only or lost file,
// the write lock held by another process past the busy timeout) while the
// batch runs or commits rolls the whole batch back and fails every call of
// it with that error: nothing of the batch is visible, and each caller's
// "an error changed nothing" holds.
//
// Cancellation: a call whose context is done before the writer reaches it
// is withdrawn (it fails with the context's error and changes nothing).
// Once the writer has run a call's statements, its caller waits for the
// batch's commit whatever its context says, and gets the true outcome:
// success only once the change is durable, an error only if it was not
// made. So a cancelled caller may still see success; a request it started
// stays done, as with any statement that reached the database.

// call is one write method's work, waiting for the writer.
type call struct {
	ctx  context.Context
	f    func(ctx context.Context, c *wconn) error
	done chan error // buffered: the writer never waits for the caller
}

// wconn is the writer's connection, with its statements prepared once.
type wconn struct {
	conn  *sql.Conn
	mu    sync.Mutex // only for statements(), read by tests while the writer runs
	stmts map[string]*sql.Stmt
}

func (c *wconn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := c.conn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

// writerStatements lists the statements the writer has prepared on its
// current connection.
func (s *Store) writerStatements() []string {
	c := s.wc.Load()
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Collect(maps.Keys(c.stmts))
}

func (c *wconn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// queryRow scans the first row of query with scan; sql.ErrNoRows if none.
func (c *wconn) queryRow(ctx context.Context, scan func(scanner) error, query string, args ...any) error {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return err
	}
	return scan(st.QueryRowContext(ctx, args...))
}

// control runs a transaction control statement of the rare paths
// (ROLLBACK, ROLLBACK TO), parsed each time it runs.
func (c *wconn) control(query string) error {
	_, err := c.conn.ExecContext(context.Background(), query)
	return err
}

// prepared runs a transaction control statement of every batch (BEGIN,
// SAVEPOINT, RELEASE, COMMIT) as a statement prepared once, rather than
// parsing it on every batch (half of what SAVEPOINT and RELEASE cost the
// writer). The driver resets a prepared statement after each run, so none
// stays active to make a later ROLLBACK TO or COMMIT fail as busy (the
// failing-member tests run ROLLBACK TO after the prepared SAVEPOINT).
func (c *wconn) prepared(query string) error {
	_, err := c.exec(context.Background(), query)
	return err
}

func (c *wconn) close() {
	for _, st := range c.stmts {
		st.Close()
	}
	c.conn.Close()
}

// write runs f in the next batch of the writer and returns its outcome
// once the batch is committed (see the group commit notes above). Errors
// are mapped and wrapped as by every method (use).
func (s *Store) write(ctx context.Context, op string, f func(ctx context.Context, c *wconn) error) error {
	return s.use(ctx, s.writer, op, func() error {
		x := &call{ctx: ctx, f: f, done: make(chan error, 1)}
		select {
		case s.queue <- x:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.writerDone:
			return fmt.Errorf("%w: store closed", store.ErrUnavailable)
		}
		select {
		case err := <-x.done:
			return err
		case <-s.writerDone:
			// The writer may have answered just before it stopped.
			select {
			case err := <-x.done:
				return err
			default:
				return fmt.Errorf("%w: store closed", store.ErrUnavailable)
			}
		}
	})
}

// runWriter is the writer goroutine: it runs batches until quit.
func (s *Store) runWriter() {
	defer close(s.writerDone)
	var c *wconn
	defer func() {
		if c != nil {
			c.close()
		}
	}()
	batch := make([]*call, 0, s.batchSize)
	shared := false // whether the last batch carried more than one call
	for {
		select {
		case x := <-s.queue:
			batch = append(batch[:0], x)
		case <-s.quit:
			return
		}
		batch = s.fill(batch)
		// Under concurrent load, the goroutines that are about to queue
		// a write are runnable now, waiting for a CPU: yielding to them
		// once or twice before the BEGIN lets their calls join this
		// commit rather than wait for the next one (fewer fsyncs per
		// state change, and less CPU, as each commit costs its own). A
		// lone writer yields nothing: no runnable goroutine, no wait.
		for i := 0; i < lingerYields && len(batch) < s.batchSize && (shared || len(batch) > 1); i++ {
			runtime.Gosched()
			batch = s.fill(batch)
		}
		shared = len(batch) > 1
		c = s.runBatch(c, batch)
		clear(batch)
	}
}

// lingerYields is how many times the writer yields the CPU to let more
// calls join a batch under load (see runWriter).
const lingerYields = 2

// fill appends the calls queued now to batch, up to the batch size.
func (s *Store) fill(batch []*call) []*call {
	for len(batch) < s.batchSize {
		select {
		case x := <-s.queue:
			batch = append(batch, x)
		default:
			return batch
		}
	}
	return batch
}

// Commits returns how many transactions the writer has committed with at
// least one change in them: with synchronous=FULL each is one fsync of the
// WAL (checkpoints add their own, rarely), so that commits per state change
// is what group commit brings down. For benchmarks.
func (s *Store) Commits() uint64 { return s.commits.Load() }

// runBatch runs and commits one batch on c (opening a connection if c is
// nil), answers every call, and returns the connection to use next (nil
// after a failure of the file or the connection).
func (s *Store) runBatch(c *wconn, batch []*call) *wconn {
	errs := make([]error, len(batch))
	failAll := func(err error) {
		for i := range errs {
			errs[i] = err
		}
	}
	c, err := s.begin(c)
	if err == nil {
		err = s.runCalls(c, batch, errs)
	}
	changed := slices.ContainsFunc(errs, func(e error) bool { return e == nil })
	if err == nil && !changed {
		// Every call failed alone or was withdrawn: nothing to make
		// durable, and a lone call's failure left its statements in the
		// transaction, not in a savepoint.
		err = c.control("ROLLBACK")
		if err == nil {
			for i, x := range batch {
				x.done <- errs[i]
			}
			return c
		}
	}
	if err == nil && s.beforeCommit != nil {
		err = s.beforeCommit()
	}
	if err == nil {
		err = c.prepared("COMMIT")
		if err == nil {
			s.commits.Add(1)
		}
	}
	if err != nil {
		if c != nil {
			_ = c.control("ROLLBACK") // fails harmlessly when SQLite rolled back already
		}
		failAll(err)
		if _, broken := mapErr(err); broken && c != nil {
			c.close()
			c = nil
			s.writer.reset()
		}
	}
	for i, x := range batch {
		x.done <- errs[i]
	}
	return c
}

// begin opens a connection if needed and starts the batch's transaction.
func (s *Store) begin(c *wconn) (*wconn, error) {
	if err := s.checkFile(); err != nil {
		return c, err
	}
	if c == nil {
		conn, err := s.writer.db.Conn(context.Background())
		if err != nil {
			return nil, err
		}
		c = &wconn{conn: conn, stmts: map[string]*sql.Stmt{}}
		s.wc.Store(c)
	}
	return c, s.retryBusy(func() error { return c.prepared("BEGIN IMMEDIATE") })
}

// runCalls runs each call in its own savepoint, recording a call's own
// failure in errs. It returns a storage failure, after which the batch
// must be rolled back as a whole. A batch of one call needs no savepoint:
// the transaction is its savepoint, and runBatch rolls it back instead of
// committing when the call fails (two statements fewer per lone write).
func (s *Store) runCalls(c *wconn, batch []*call, errs []error) error {
	if len(batch) == 1 {
		x := batch[0]
		if err := x.ctx.Err(); err != nil {
			errs[0] = err // withdrawn before it ran
			return nil
		}
		err := x.f(context.WithoutCancel(x.ctx), c)
		if err != nil && isOutage(err) {
			return err
		}
		errs[0] = err
		return nil
	}
	for i, x := range batch {
		if err := x.ctx.Err(); err != nil {
			errs[i] = err // withdrawn before it ran
			continue
		}
		if err := c.prepared("SAVEPOINT call"); err != nil {
			return err
		}
		err := x.f(context.WithoutCancel(x.ctx), c)
		if err == nil {
			if err := c.prepared("RELEASE call"); err != nil {
				return err
			}
			continue
		}
		if isOutage(err) {
			return err
		}
		errs[i] = err
		if err := c.control("ROLLBACK TO call"); err != nil {
			return err
		}
		if err := c.control("RELEASE call"); err != nil {
			return err
		}
	}
	return nil
}

// isOutage reports an error of the storage rather than of one call: it
// fails the whole batch.
func isOutage(err error) bool {
	m, broken := mapErr(err)
	return broken || errors.Is(m, store.ErrUnavailable)
}

// retryBusy runs f until it succeeds or fails otherwise than with
// SQLITE_BUSY, for up to the busy timeout. While another process holds the
// write lock, SQLite's own busy handler would sleep 1, 2, 5, 10, ... ms,
// which under contention lets one process starve the other for tens of ms;
// this waits in short, jittered, growing pauses instead.
func (s *Store) retryBusy(f func() error) error {
	deadline := time.Now().Add(s.busyTimeout)
	pause := 20 * time.Microsecond
	for {
		err := f()
		if !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(pause/2 + rand.N(pause))
		pause = min(2*pause, 2*time.Millisecond)
	}
}

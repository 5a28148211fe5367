package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"modernc.org/sqlite"
)

// pool is a *sql.DB with its statements prepared once: parsing SQL costs
// more than running these statements.
type pool struct {
	db    *sql.DB
	conns int
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

func newPool(dsn string, conns int) (*pool, error) {
	c, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	db := sql.OpenDB(c)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
	return &pool{db: db, conns: conns, stmts: map[string]*sql.Stmt{}}, nil
}

// stmt returns the prepared statement of query. database/sql prepares it
// again on each connection that runs it, once.
func (p *pool) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.stmts[query]; ok {
		return st, nil
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	p.stmts[query] = st
	return st, nil
}

func (p *pool) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow scans the first row of query with scan; sql.ErrNoRows if none.
func (p *pool) queryRow(ctx context.Context, scan func(scanner) error, query string, args ...any) error {
	st, err := p.stmt(ctx, query)
	if err != nil {
		return err
	}
	return scan(st.QueryRowContext(ctx, args...))
}

// reset closes the idle connections, so that the next calls open new ones.
func (p *pool) reset() {
	p.db.SetMaxIdleConns(0)
	p.db.SetMaxIdleConns(p.conns)
}

func (p *pool) close() error {
	p.mu.Lock()
	for _, st := range p.stmts {
		st.Close()
	}
	p.mu.Unlock()
	return p.db.Close()
}

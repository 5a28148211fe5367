package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/assent-dev/assent/store"
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// exec runs one write statement.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) error {
	return s.write(ctx, op, func(ctx context.Context, c *wconn) error {
		_, err := c.exec(ctx, query, args...)
		return err
	})
}

// update runs one conditional UPDATE and reports whether it changed a row.
// The UPDATE is the arbiter of every race; only when it changed nothing does
// the caller read the row to say why.
func (s *Store) update(ctx context.Context, op, query string, args ...any) (bool, error) {
	var n int64
	err := s.write(ctx, op, func(ctx context.Context, c *wconn) error {
		r, err := c.exec(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err = r.RowsAffected()
		return err
	})
	return n > 0, err
}

// errUnchanged is what a conditional update inside a write call returns
// when it changed no row; the method then reads the row to say why
// (whyNot). As an error it also rolls the call's savepoint back.
var errUnchanged = errors.New("sqlite: conditional update changed nothing")

// changed turns the result of a conditional update into errUnchanged when
// it changed no row.
func changed(r sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := r.RowsAffected()
	if err == nil && n == 0 {
		err = errUnchanged
	}
	return err
}

// get reads one row: ErrNotFound when there is none.
func (s *Store) get(ctx context.Context, op string, scan func(scanner) error, query string, args ...any) error {
	return s.read(ctx, op, func(ctx context.Context, p *pool) error {
		err := p.queryRow(ctx, scan, query, args...)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		return err
	})
}

// list reads rows, scanning each with scan.
func (s *Store) list(ctx context.Context, op string, scan func(scanner) error, query string, args ...any) error {
	return s.read(ctx, op, func(ctx context.Context, p *pool) error {
		rows, err := p.query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
}

// whyNot explains a conditional update of the object id in table that
// changed nothing: ErrNotFound if there is no such object, ErrConflict if it
// is not in one of the states from, ErrExpired if it is but its deadline
// (expires_at) is not after now. If none holds, another caller changed the
// object between the update and this read: ErrConflict too.
func (s *Store) whyNot(ctx context.Context, op, table, id string, now time.Time, from ...string) error {
	var state string
	var expires sql.NullInt64
	err := s.get(ctx, op, func(r scanner) error { return r.Scan(&state, &expires) },
		"SELECT state, "+deadlineColumn[table]+" FROM "+table+" WHERE id = ?", id)
	switch {
	case err != nil:
		return err
	case !slices.Contains(from, state):
		return fmt.Errorf("sqlite: %s: %w: %s is %s", op, store.ErrConflict, id, state)
	case !now.IsZero() && expires.Valid && now.UnixNano() >= expires.Int64:
		return fmt.Errorf("sqlite: %s: %w: %s expired at %s", op, store.ErrExpired, id, timeCol(expires).Format(time.RFC3339))
	}
	return fmt.Errorf("sqlite: %s: %w: %s changed meanwhile", op, store.ErrConflict, id)
}

// deadlineColumn is the deadline of each table's objects, for whyNot.
var deadlineColumn = map[string]string{
	"records":  "expires_at",
	"requests": "expires_at",
	"sessions": "expires_at",
	"devices":  "NULL",
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/assent-dev/assent/store"
)

// exec runs one write statement.
func (s *Store) exec(ctx context.Context, op, query string, args ...any) error {
	return s.write(ctx, op, func(ctx context.Context) error {
		_, err := s.pool.Exec(ctx, query, args...)
		return err
	})
}

// update runs one conditional UPDATE ... RETURNING and reports whether it
// changed a row, scanning the returned columns into dest. The UPDATE is the
// arbiter of every race; only when it changed nothing does the caller read
// the row to say why.
func (s *Store) update(ctx context.Context, op, query string, args []any, dest ...any) (bool, error) {
	err := s.write(ctx, op, func(ctx context.Context) error {
		return s.pool.QueryRow(ctx, query, args...).Scan(dest...)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// get reads one row: ErrNotFound when there is none.
func (s *Store) get(ctx context.Context, op string, scan func(pgx.Row) error, query string, args ...any) error {
	return s.read(ctx, op, func(ctx context.Context) error {
		return scan(s.pool.QueryRow(ctx, query, args...))
	})
}

// list reads rows, scanning each with scan into a new list (nil when empty).
func list[T any](ctx context.Context, s *Store, op string, scan func(pgx.Row) (T, error), query string, args ...any) ([]T, error) {
	var out []T
	err := s.read(ctx, op, func(ctx context.Context) error {
		out = nil
		rows, err := s.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			x, err := scan(rows)
			if err != nil {
				return err
			}
			out = append(out, x)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// whyNot explains a conditional update of the object id in table that
// changed nothing: ErrNotFound if there is no such object, ErrConflict if it
// is not in one of the states from, ErrExpired if it is but its deadline
// (expires_at) is not after now. If none holds, another caller changed the
// object between the update and this read: ErrConflict too.
func (s *Store) whyNot(ctx context.Context, op, table, id string, now time.Time, from ...string) error {
	var state string
	var expires *int64
	err := s.get(ctx, op, func(r pgx.Row) error { return r.Scan(&state, &expires) },
		"SELECT state, "+deadlineColumn[table]+" FROM "+table+" WHERE id = $1", id)
	switch {
	case err != nil:
		return err
	case !slices.Contains(from, state):
		return fmt.Errorf("postgres: %s: %w: %s is %s", op, store.ErrConflict, id, state)
	case !now.IsZero() && expires != nil && now.UnixNano() >= *expires:
		return fmt.Errorf("postgres: %s: %w: %s expired at %s", op, store.ErrExpired, id, timeCol(expires).Format(time.RFC3339))
	}
	return fmt.Errorf("postgres: %s: %w: %s changed meanwhile", op, store.ErrConflict, id)
}

// deadlineColumn is the deadline of each table's objects, for whyNot.
var deadlineColumn = map[string]string{
	"records":  "expires_at",
	"requests": "expires_at",
	"sessions": "expires_at",
	"devices":  "NULL::bigint",
}

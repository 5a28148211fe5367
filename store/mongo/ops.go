package mongo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/assent-dev/assent/store"
)

// insert inserts one document: ErrConflict on a duplicate key.
func (s *Store) insert(ctx context.Context, op string, c *mongo.Collection, doc any) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	_, err := c.InsertOne(ctx, doc)
	return fail(op, err)
}

// get decodes the document matching filter into out: ErrNotFound when none
// does.
func (s *Store) get(ctx context.Context, op string, c *mongo.Collection, filter bson.D, out any,
	opts ...options.Lister[options.FindOneOptions]) error {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	err := c.FindOne(ctx, filter, opts...).Decode(out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("mongo: %s: %w", op, store.ErrNotFound)
	}
	return fail(op, err)
}

// getByID reads the document with that id and converts it with conv.
func getByID[D, T any](ctx context.Context, s *Store, op string, c *mongo.Collection, id string, conv func(*D) T) (T, error) {
	d := new(D)
	if err := s.get(ctx, op, c, bson.D{eq("_id", id)}, d); err != nil {
		var zero T
		return zero, err
	}
	return conv(d), nil
}

// list decodes the documents matching filter, in sort order and at most
// limit of them, and converts each with conv.
func list[D, T any](ctx context.Context, s *Store, op string, c *mongo.Collection, filter, sort bson.D, limit int, conv func(*D) T) ([]T, error) {
	return listProjected(ctx, s, op, c, filter, sort, nil, limit, conv)
}

// listProjected is list reading only the fields projection keeps (nil:
// all of them).
func listProjected[D, T any](ctx context.Context, s *Store, op string, c *mongo.Collection, filter, sort, projection bson.D, limit int, conv func(*D) T) ([]T, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	o := options.Find().SetSort(sort).SetLimit(int64(limit))
	if projection != nil {
		o.SetProjection(projection)
	}
	cur, err := c.Find(ctx, filter, o)
	if err != nil {
		return nil, fail(op, err)
	}
	defer cur.Close(ctx)
	var out []T
	for cur.Next(ctx) {
		d := new(D)
		if err := cur.Decode(d); err != nil {
			return nil, fail(op, err)
		}
		out = append(out, conv(d))
	}
	return out, fail(op, cur.Err())
}

// count counts the documents matching filter.
func (s *Store) count(ctx context.Context, op string, c *mongo.Collection, filter bson.D) (int, error) {
	ctx, cancel := s.opContext(ctx)
	defer cancel()
	n, err := c.CountDocuments(ctx, filter)
	return int(n), fail(op, err)
}

// transition applies update to the document id if it also matches cond,
// which holds the state the transition starts from (and the deadline). The
// single-document findOneAndUpdate is the arbiter of every race; only when it
// matched nothing is the document read to say why. When after is not nil,
// the updated document is decoded into it.
func (s *Store) transition(ctx context.Context, op string, c *mongo.Collection, id string, cond, update bson.D, after any,
	now time.Time, from ...string) error {
	filter := append(bson.D{{Key: "_id", Value: id}}, cond...)
	// FerretDB v1 refuses a projection ("fields") in findAndModify, so the
	// whole document comes back.
	o := options.FindOneAndUpdate().SetReturnDocument(options.After)
	octx, cancel := s.opContext(ctx)
	defer cancel()
	res := c.FindOneAndUpdate(octx, filter, update, o)
	err := res.Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return s.whyNot(ctx, op, c, id, now, from...)
	}
	if err == nil && after != nil {
		err = res.Decode(after)
	}
	return fail(op, err)
}

// whyNot explains a conditional update of the document id that matched
// nothing: ErrNotFound if there is no such document, ErrConflict if it is not
// in one of the states from, ErrExpired if it is but its expires_at is not
// after now (a zero now skips this). If none holds, another caller changed
// the document between the update and this read: ErrConflict too.
func (s *Store) whyNot(ctx context.Context, op string, c *mongo.Collection, id string, now time.Time, from ...string) error {
	var d struct {
		State     string    `bson:"state"`
		ExpiresAt time.Time `bson:"expires_at"`
	}
	if err := s.get(ctx, op, c, bson.D{{Key: "_id", Value: id}}, &d); err != nil {
		return err
	}
	switch {
	case !slices.Contains(from, d.State):
		return fmt.Errorf("mongo: %s: %w: %s is %s", op, store.ErrConflict, id, d.State)
	case !now.IsZero() && !d.ExpiresAt.IsZero() && !dbTime(now).Before(d.ExpiresAt):
		return fmt.Errorf("mongo: %s: %w: %s expired at %s", op, store.ErrExpired, id, d.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return fmt.Errorf("mongo: %s: %w: %s changed meanwhile", op, store.ErrConflict, id)
}

// dbTime is t as a BSON date holds it (whole milliseconds), for comparing in
// Go what the database compared.
func dbTime(t time.Time) time.Time {
	return t.Truncate(time.Millisecond)
}

// Filter and update helpers, to keep the queries readable.

func eq(k string, v any) bson.E { return bson.E{Key: k, Value: v} }

func cmp(operator string, v any) bson.D { return bson.D{{Key: operator, Value: v}} }

func in(states ...string) bson.D { return cmp("$in", states) }

func set(fields ...bson.E) bson.D { return bson.D{{Key: "$set", Value: bson.D(fields)}} }

// asc sorts by the given fields ascending, then by _id so that ties come back
// in a stable order.
func asc(fields ...string) bson.D {
	d := make(bson.D, 0, len(fields)+1)
	for _, f := range fields {
		d = append(d, eq(f, 1))
	}
	return append(d, eq("_id", 1))
}

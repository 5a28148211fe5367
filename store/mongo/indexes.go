package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// index is one index of one collection. Every listing of the Store is served
// by one of them in its sort order; the unique ones carry the contract's
// uniqueness rules (the unique ids are the _id indexes MongoDB always has).
type index struct {
	coll   string
	name   string
	keys   bson.D
	unique bool
}

func keys(fields ...string) bson.D {
	d := make(bson.D, len(fields))
	for i, f := range fields {
		d[i] = eq(f, 1)
	}
	return d
}

var indexes = []index{
	{collUsers, "client_external", keys("client_id", "external_id"), true},
	{collClients, "key_prefix", keys("key_prefix"), true},
	{collDevices, "user_state_created", keys("user_id", "state", "created_at"), false},
	{collRecords, "user", keys("user_id"), false},
	{collRecords, "state_expires", keys("state", "expires_at"), false},
	{collRecords, "state_created", keys("state", "created_at"), false},
	{collRequests, "user_state_created", keys("user_id", "state", "created_at"), false},
	{collRequests, "state_expires", keys("state", "expires_at"), false},
	{collRequests, "owner_state_processed_created", keys("owner_node", "state", "processed", "created_at"), false},
	{collSessions, "user", keys("user_id"), false},
	{collSessions, "state_expires", keys("state", "expires_at"), false},
	{collNonces, "device_nonce", keys("device_id", "nonce"), true},
	{collNonces, "expires", keys("expires_at"), false},
	{collAudit, "user_seq", keys("user_id", "seq"), true},
	{collPush, "endpoint", keys("endpoint"), true},
	{collTransfers, "expires", keys("expires_at"), false},
	// GridFS: the driver's standard indexes, plus the uniqueness of names
	// and the listing of staged blobs.
	{blobBucket + ".files", "filename_uploadDate", keys("filename", "uploadDate"), false},
	{blobBucket + ".files", "filename", keys("filename"), true},
	{blobBucket + ".files", "state_written", keys("metadata.state", "metadata.written_at"), false},
	{blobBucket + ".chunks", "files_id_n", keys("files_id", "n"), true},
}

// indexTimeout bounds the creation of one index: building a missing index
// on a large collection takes longer than an ordinary operation.
const indexTimeout = 5 * time.Minute

// createIndexes creates the indexes that are missing. Creating an existing
// index with the same keys and options does nothing, so every node does it
// at start. One index per command: FerretDB v1.24 panics on a createIndexes
// listing two or more indexes that all exist already.
func (s *Store) createIndexes(ctx context.Context) error {
	for _, ix := range indexes {
		o := options.Index().SetName(ix.name)
		if ix.unique {
			o.SetUnique(true)
		}
		octx, cancel := context.WithTimeout(ctx, max(s.cfg.op, indexTimeout))
		_, err := s.db.Collection(ix.coll).Indexes().CreateOne(octx, mongo.IndexModel{Keys: ix.keys, Options: o})
		cancel()
		if err != nil {
			return fail(fmt.Sprintf("create index %s of %s", ix.name, ix.coll), err)
		}
	}
	return nil
}

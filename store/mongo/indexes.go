package mongo

import (
	"context"
	"fmt"

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
	// GridFS: the driver's standard indexes, plus the uniqueness of names
	// and the listing of staged blobs.
	{blobBucket + ".files", "filename_uploadDate", keys("filename", "uploadDate"), false},
	{blobBucket + ".files", "filename", keys("filename"), true},
	{blobBucket + ".files", "state_written", keys("metadata.state", "metadata.written_at"), false},
	{blobBucket + ".chunks", "files_id_n", keys("files_id", "n"), true},
}

// createIndexes creates the indexes that are missing. Creating an existing
// index with the same keys and options does nothing, so every node does it
// at start.
func (s *Store) createIndexes(ctx context.Context) error {
	byColl := map[string][]mongo.IndexModel{}
	var order []string
	for _, ix := range indexes {
		if _, ok := byColl[ix.coll]; !ok {
			order = append(order, ix.coll)
		}
		o := options.Index().SetName(ix.name)
		if ix.unique {
			o.SetUnique(true)
		}
		byColl[ix.coll] = append(byColl[ix.coll], mongo.IndexModel{Keys: ix.keys, Options: o})
	}
	for _, c := range order {
		octx, cancel := s.opContext(ctx)
		_, err := s.db.Collection(c).Indexes().CreateMany(octx, byColl[c])
		cancel()
		if err != nil {
			return fail(fmt.Sprintf("create indexes of %s", c), err)
		}
	}
	return nil
}

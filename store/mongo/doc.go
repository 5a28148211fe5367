// Package mongo is the scale-out store.Store of Assent, on MongoDB through
// go.mongodb.org/mongo-driver/v2, with a GridFS store.BlobStore on the same
// connection. It implements the "Storage" and "Scale-out" sections of
// DESIGN.md: one replica set or sharded cluster serves any number of
// stateless API nodes.
//
// # Atomic transitions
//
// Every state change is one single-document findOneAndUpdate whose filter
// holds the id, the state the transition starts from and, where the contract
// has a deadline, expires_at > now. MongoDB applies it atomically to one
// document, so of any number of racers exactly one matches; the others match
// nothing, and only then is the document read to tell ErrNotFound,
// ErrConflict and ErrExpired apart. UseDownload is two such updates tried
// in turn ($inc while more than one download is left, else the last one
// together with the move to consumed), since one update computing both needs
// an aggregation-pipeline update that the test engine lacks. No
// multi-document transaction, TTL index or change stream is used. Audit
// appends read the user's last entry and insert the next one under the
// unique index (user_id, seq); a loser of a race gets a duplicate key and
// retries after a short random pause, so the chain never forks. Replayed
// nonces are refused by an upsert under the unique index (device_id, nonce)
// whose filter only matches an expired entry.
//
// # Write and read concerns
//
// All writes use write concern "majority" (journaled): an acknowledged
// transition, audit entry or blob chunk is on a majority of the replica set
// and survives a failover, so a record the server reported sealed, or an
// audit entry a device has seen, is never rolled back. Reads use read concern
// "majority" with read preference primary: a node never acts on a state that
// a failover could roll back, and after a write it reads that write. These
// settings override any given in the URI, because the guarantees above
// depend on them. Retryable writes (the driver default) make a findAndModify
// retried after a network error return its first outcome instead of applying
// twice.
//
// # Outages
//
// Server selection and connection set-up are bounded (3 s by default,
// WithServerSelectionTimeout) and so is every operation (10 s by default,
// WithOperationTimeout), so that with the database unreachable every call
// fails within a bounded time with an error wrapping store.ErrUnavailable
// (the server answers 503). The driver reconnects by itself: calls succeed
// again once the database is back, with no restart.
//
// # Sharding
//
// The large collections (records, requests, sessions, audit, devices) carry
// user_id and are meant to be sharded on it, so that a user's data lives on
// one shard and the audit index (user_id, seq) stays unique cluster-wide; the
// nonce cache is sharded on device_id and the GridFS chunks on files_id. The
// small collections whose uniqueness spans users (users with the unique pair
// (client_id, external_id), clients by key prefix, enrollment codes) stay
// unsharded. Ids are random or UUIDv7, so their uniqueness holds across
// shards although MongoDB enforces _id per shard only. Lookups and
// transitions by id without user_id are routed to every shard; a sharded
// cluster therefore needs MongoDB 7.1 or later, which accepts findAndModify
// without the shard key in the filter.
//
// # Test engine
//
// The tests run the conformance suite against an embedded FerretDB v1
// (MongoDB wire protocol on SQLite, internal/ferrettest; in a child process,
// so that the suite's heap bound measures this package and not the
// database) for query semantics only. FerretDB is no production backend and no stand-in for the race
// tests: its findAndModify is not atomic (several concurrent conditional
// updates of one document "win") and it scans the whole collection on every
// update. With ASSENT_TEST_MONGODB_URI set, the whole suite, race tests
// included, runs against that real MongoDB instead. The queries here are
// restricted to what both engines support: no partial indexes (FerretDB:
// NotImplemented), no aggregation-pipeline updates, no projection in
// findAndModify (so a transition gets the whole document back), one index
// per createIndexes command (FerretDB v1.24 panics on a list of indexes that
// all exist), and GridFS written by this package rather than the driver's
// bucket (see Blobs). The conformance races that rest on a unique index
// (duplicate ids, nonces, audit sequence numbers) do hold on FerretDB; those
// that rest on a conditional findAndModify do not.
package mongo

// Package postgres is a scale-out store.Store of Assent on PostgreSQL
// (version 13 or later; tested on 15) through github.com/jackc/pgx/v5, with
// a store.BlobStore in the same database. It implements the "Storage" and
// "Scale-out" sections of DESIGN.md: one PostgreSQL server (or its primary)
// serves any number of stateless API nodes.
//
// # Atomic transitions
//
// Every state change is one conditional statement: UPDATE ... WHERE id = $1
// AND state = '<from>' [AND expires_at > $now] RETURNING ..., run alone in
// PostgreSQL's default READ COMMITTED isolation. A racer that finds the row
// locked by another waits for it, then re-checks its WHERE clause against
// the row the winner left, so exactly one of any number of racers changes
// the row; only when a statement changed nothing is the row read again to
// tell ErrNotFound, ErrConflict and ErrExpired apart. Only the schema
// migration and the combined calls (CreateRecordAudited, StageAndAsk,
// AnswerAndSeal, whose several writes must be all or nothing) open a
// transaction, READ COMMITTED as well; none needs SERIALIZABLE, since each
// transition in them is the same conditional UPDATE. Audit appends read the user's last entry and insert the
// next one under the primary key (user_id, seq); a loser of a race gets a
// unique violation and retries, so the chain never forks. Replayed nonces
// are refused by INSERT ... ON CONFLICT DO UPDATE ... WHERE the entry has
// expired, which PostgreSQL applies atomically.
//
// # Schema
//
// The tables live in the first schema of the connection's search_path (set
// it in the URL, ?search_path=assent, to keep Assent apart from other
// applications). The table assent_schema holds the schema version;
// migrations run once, in one transaction under an advisory lock, so nodes
// starting together migrate once, and a database written by a newer binary
// is refused (ErrNewerSchema). States are literals in partial indexes, so
// the sweeper's and the owner node's queries read only live rows in
// deadline order; a test reads EXPLAIN of every statement the store runs
// and fails on any sequential scan or sort.
//
// # Outages
//
// Every call is bounded: connecting by Options.ConnectTimeout, each
// statement by Options.StatementTimeout on the server (statement_timeout)
// and by the same duration plus a second on the client, so that a server
// that stopped answering, or a network path that silently drops packets,
// fails the call with ErrUnavailable rather than hanging it. Writes run
// without the caller's cancellation (but with that bound), so a caller
// giving up does not leave a change half reported. A connection lost after
// a write was sent but before its answer came back leaves the outcome
// unknown, as with any network database: the call reports ErrUnavailable
// and the caller's retry meets ErrConflict if the first attempt applied
// (every transition is conditional, so none applies twice).
//
// # Blobs: bytea chunks, not large objects
//
// Blobs (Store.Blobs) are rows of at most 1 MiB of bytea in blob_chunks,
// keyed by (blob id, chunk number), under a row in blobs that carries the
// name, the state (writing -> staged -> committed) and the length; the
// chunks reference that row ON DELETE CASCADE, so Delete is one statement
// that takes the chunks along, and a chunk written to a blob deleted
// meanwhile is refused by the foreign key instead of being orphaned. Large objects were the other choice; they were not taken because
// (a) every large-object call must run inside a transaction, so a blob being
// streamed over minutes would hold one transaction (and one connection)
// open for the whole upload, blocking vacuum; here each chunk is one
// autocommit INSERT and the upload holds nothing between writes; (b) large
// objects live in the shared pg_largeobject catalog, outside the schema, so
// they are not dropped with it, not covered by a per-schema dump, and are
// orphaned by a deleted row unless lo_unlink is called (vacuumlo exists
// because of it); (c) large objects are not replicated by logical
// replication, while chunk rows are ordinary rows. A chunk is read by its
// primary key, one round trip and one chunk of memory per chunk.
package postgres

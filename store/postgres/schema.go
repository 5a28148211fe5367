package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Errors of Open for a database this binary must not use.
var (
	// ErrNewerSchema: the database was written by a newer Assent; running an
	// older binary on it could lose data, so it is refused.
	ErrNewerSchema = errors.New("postgres: database schema is newer than this binary")
	// ErrNotAssent: the schema holds tables of another application under
	// the names Assent uses.
	ErrNotAssent = errors.New("postgres: not an Assent schema")
)

// migrationLock is the key of the transaction-scoped advisory lock that
// serializes migrations of nodes starting together: "ASNT".
const migrationLock = 0x41534e54

// migrations[i] takes the schema from version i to i+1; assent_schema holds
// the version. Never edit a migration once released: add one.
var migrations = []string{
	// 1: the tables of DESIGN.md. Times are bigint Unix nanoseconds (exact,
	// as in the SQLite store); lists are arrays. States are literals in
	// the partial indexes, which the queries repeat word for word so that
	// the planner uses them.
	`
CREATE TABLE users (
	id            text PRIMARY KEY,
	client_id     text NOT NULL,
	external_id   text NOT NULL,
	display_name  text NOT NULL,
	share_wrapped bytea NOT NULL,
	share_version bigint NOT NULL,
	created_at    bigint,
	-- the pinned pkD and its device_key_id, set once (PinUserKey)
	device_public_key bytea,
	device_key_id     text,
	UNIQUE (client_id, external_id)
);
CREATE TABLE enrollments (
	code_hash  bytea PRIMARY KEY,
	user_id    text NOT NULL,
	expires_at bigint NOT NULL,
	used_at    bigint
);
CREATE TABLE devices (
	id                 text PRIMARY KEY,
	user_id            text NOT NULL,
	name               text NOT NULL,
	oprf_public_key    bytea NOT NULL,
	signing_public_key bytea NOT NULL,
	key_id             text NOT NULL,
	state              text NOT NULL CHECK (state IN ('pending', 'active', 'revoked', 'suspended', 'awaiting_transfer',
		'recovery_pending', 'cancelled')),
	check_blinded      bytea[],
	created_at         bigint,
	activated_at       bigint,
	state_at           bigint,
	enroll_signature   bytea,
	check_evaluated    bytea[],
	check_proof        bytea,
	add_statement      bytea,
	add_signature      bytea
);
CREATE INDEX devices_user ON devices (user_id, created_at, id);
CREATE TABLE clients (
	id         text PRIMARY KEY,
	name       text NOT NULL,
	key_prefix text NOT NULL UNIQUE,
	key_hash   bytea NOT NULL,
	scopes     text[],
	created_at bigint
);
CREATE INDEX clients_created ON clients (created_at, id);
CREATE TABLE records (
	id                 text PRIMARY KEY,
	user_id            text NOT NULL,
	client_id          text NOT NULL,
	title              text NOT NULL,
	content_type       text NOT NULL,
	purpose            text NOT NULL,
	state              text NOT NULL CHECK (state IN ('awaiting_upload', 'pending_approval', 'sealed', 'rejected', 'expired')),
	created_at         bigint NOT NULL,
	size               bigint,
	content_sha256     bytea,
	blob_name          text,
	input              bytea,
	device_key_id      text,
	request_id         text,
	expires_at         bigint,
	wrapped_dek        bytea,
	approval_device_id text,
	approval_statement bytea,
	approval_signature bytea,
	approval_evaluated bytea[],
	approval_proof     bytea,
	sealed_at          bigint
);
CREATE INDEX records_user ON records (user_id);
CREATE INDEX records_pending_due ON records (expires_at, id) WHERE state = 'pending_approval';
CREATE INDEX records_upload_due ON records (created_at, id) WHERE state = 'awaiting_upload';
CREATE TABLE requests (
	id                    text PRIMARY KEY,
	kind                  text NOT NULL CHECK (kind IN ('create', 'access')),
	user_id               text NOT NULL,
	record_id             text NOT NULL,
	session_id            text NOT NULL,
	device_key_id         text NOT NULL,
	requester_id          text NOT NULL,
	requester_name        text NOT NULL,
	purpose               text NOT NULL,
	record_title          text NOT NULL,
	record_content_type   text NOT NULL,
	record_size           bigint NOT NULL,
	record_content_sha256 bytea,
	blinded_elements      bytea[] NOT NULL,
	state                 text NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired')),
	created_at            bigint NOT NULL,
	expires_at            bigint NOT NULL,
	owner_node            text NOT NULL,
	answer_decision       text,
	answer_evaluated      bytea[],
	answer_proof          bytea,
	answer_device_id      text,
	answer_statement      bytea,
	answer_signature      bytea,
	answered_at           bigint,
	processed             boolean NOT NULL DEFAULT false
);
CREATE INDEX requests_user_pending ON requests (user_id, created_at, expires_at, id) WHERE state = 'pending';
CREATE INDEX requests_pending_due ON requests (expires_at, id) WHERE state = 'pending';
CREATE INDEX requests_owner_pending ON requests (owner_node, created_at, id) WHERE state = 'pending';
CREATE INDEX requests_owner_answered ON requests (owner_node, created_at, id)
	WHERE state IN ('approved', 'denied') AND NOT processed;
CREATE TABLE sessions (
	id                 text PRIMARY KEY,
	record_id          text NOT NULL,
	user_id            text NOT NULL,
	requester_id       text NOT NULL,
	purpose            text NOT NULL,
	request_id         text NOT NULL,
	state              text NOT NULL CHECK (state IN ('pending_approval', 'open', 'consumed', 'denied', 'expired')),
	created_at         bigint NOT NULL,
	expires_at         bigint NOT NULL,
	downloads_left     integer NOT NULL DEFAULT 0 CHECK (downloads_left >= 0),
	approval_device_id text,
	approval_statement bytea,
	approval_signature bytea,
	approval_evaluated bytea[],
	approval_proof     bytea,
	opened_at          bigint
);
CREATE INDEX sessions_due ON sessions (expires_at, id) WHERE state IN ('pending_approval', 'open');
CREATE TABLE nonces (
	device_id  text NOT NULL,
	nonce      text NOT NULL,
	expires_at bigint NOT NULL,
	PRIMARY KEY (device_id, nonce)
);
CREATE INDEX nonces_expiry ON nonces (expires_at);
CREATE TABLE audit (
	user_id   text NOT NULL,
	seq       bigint NOT NULL CHECK (seq > 0),
	event     text NOT NULL,
	actor     text NOT NULL,
	subject   text NOT NULL,
	details   bytea,
	at        bigint NOT NULL,
	prev_hash bytea NOT NULL,
	hash      bytea NOT NULL,
	PRIMARY KEY (user_id, seq)
);
-- facts about the whole store, written once (the master key id)
CREATE TABLE settings (
	name  text PRIMARY KEY,
	value text NOT NULL
);
CREATE TABLE blobs (
	id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name       text NOT NULL UNIQUE,
	state      text NOT NULL CHECK (state IN ('writing', 'staged', 'committed')),
	length     bigint NOT NULL DEFAULT 0,
	chunk_size integer NOT NULL CHECK (chunk_size > 0),
	written_at bigint NOT NULL
);
CREATE INDEX blobs_unfinished ON blobs (written_at, id) WHERE state IN ('writing', 'staged');
CREATE TABLE blob_chunks (
	blob_id bigint NOT NULL REFERENCES blobs ON DELETE CASCADE,
	n       integer NOT NULL CHECK (n >= 0),
	data    bytea NOT NULL,
	PRIMARY KEY (blob_id, n)
);
`,
	// 2: the Web Push subscription of each device (DESIGN.md "Push"): one
	// per device, and an endpoint belongs to one device only.
	`
CREATE TABLE push_subscriptions (
	device_id text PRIMARY KEY,
	endpoint  text NOT NULL UNIQUE,
	p256dh    bytea NOT NULL,
	auth      bytea NOT NULL
);
`,
	// 3: adding a device by transfer (DESIGN.md, "The user's device set"):
	// requests of kind add_device name the device to add; the transfer
	// bundles, ciphertext only, until fetched or expired.
	`
ALTER TABLE requests DROP CONSTRAINT requests_kind_check;
ALTER TABLE requests ADD CONSTRAINT requests_kind_check CHECK (kind IN ('create', 'access', 'add_device'));
ALTER TABLE requests ADD COLUMN device_id text NOT NULL DEFAULT '';
CREATE TABLE transfers (
	device_id  text PRIMARY KEY,
	user_id    text NOT NULL,
	request_id text NOT NULL,
	sender_id  text NOT NULL,
	bundle     bytea NOT NULL,
	statement  bytea NOT NULL,
	signature  bytea NOT NULL,
	expires_at bigint NOT NULL
);
CREATE INDEX transfers_due ON transfers (expires_at);
`,
	// 4: the platform a device enrolled with (DESIGN.md "The approval
	// app"): agent or web; empty for the devices enrolled before, which
	// did not say.
	`
ALTER TABLE devices ADD COLUMN platform text NOT NULL DEFAULT '';
`,
	// 5: the ciphertext of small records (store.Staging.Content), in a
	// table of its own so that the updates of a record's row (seal, end)
	// leave it alone.
	`
CREATE TABLE record_contents (
	record_id text PRIMARY KEY,
	content   bytea NOT NULL
);
`,
}

// SchemaVersion is the schema version this binary writes.
func SchemaVersion() int { return len(migrations) }

// migrate brings the schema to SchemaVersion in one transaction (DDL is
// transactional in PostgreSQL), under an advisory lock that makes nodes
// opening the database at the same time wait for the first.
func (s *Store) migrate(ctx context.Context) error {
	return s.run(ctx, "open", func() error {
		ctx, cancel := context.WithTimeout(ctx, 4*s.opts.StatementTimeout)
		defer cancel()
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
				return err
			}
			version, err := schemaVersion(ctx, tx)
			if err != nil {
				return err
			}
			if version > len(migrations) {
				return fmt.Errorf("%w: the database has schema version %d, this binary knows up to %d; run a newer Assent",
					ErrNewerSchema, version, len(migrations))
			}
			if version == 0 {
				var n int
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()
					AND tablename IN ('users', 'records', 'requests', 'sessions', 'audit', 'blobs')`).Scan(&n); err != nil {
					return err
				}
				if n > 0 {
					return fmt.Errorf("%w: the schema already holds tables named like Assent's but no assent_schema", ErrNotAssent)
				}
				if _, err := tx.Exec(ctx, `CREATE TABLE assent_schema (version integer NOT NULL)`); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `INSERT INTO assent_schema VALUES (0)`); err != nil {
					return err
				}
			}
			for v := version; v < len(migrations); v++ {
				if _, err := tx.Exec(ctx, migrations[v]); err != nil {
					return fmt.Errorf("migrating the schema to version %d: %w", v+1, err)
				}
			}
			_, err = tx.Exec(ctx, `UPDATE assent_schema SET version = $1`, len(migrations))
			return err
		})
	})
}

// schemaVersion reads the version, 0 for a schema without Assent's table.
func schemaVersion(ctx context.Context, tx pgx.Tx) (int, error) {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema()
		AND tablename = 'assent_schema')`).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := tx.QueryRow(ctx, `SELECT version FROM assent_schema`).Scan(&v)
	return v, err
}

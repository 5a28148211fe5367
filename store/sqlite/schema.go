package sqlite

import (
	"context"
	"errors"
	"fmt"
)

// Errors of Open for a file this binary must not use.
var (
	// ErrNewerSchema: the database was written by a newer Assent; running an
	// older binary on it could lose data, so it is refused.
	ErrNewerSchema = errors.New("sqlite: database schema is newer than this binary")
	// ErrNotAssent: the file is an SQLite database of another application.
	ErrNotAssent = errors.New("sqlite: not an Assent database")
)

// applicationID marks the file as Assent's (PRAGMA application_id): "ASNT".
const applicationID = 0x41534e54

// migrations[i] takes the schema from version i to i+1; PRAGMA user_version
// holds the version. Never edit a migration once released: add one.
var migrations = []string{
	// 1: the tables of DESIGN.md. States are literals in the partial
	// indexes so that the queries of the sweeper and of the owner node read
	// only live rows, in deadline order.
	`
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	client_id     TEXT NOT NULL,
	external_id   TEXT NOT NULL,
	display_name  TEXT NOT NULL,
	share_wrapped BLOB NOT NULL,
	share_version INTEGER NOT NULL,
	created_at    INTEGER,
	UNIQUE (client_id, external_id)
);
CREATE TABLE enrollments (
	code_hash  BLOB PRIMARY KEY,
	user_id    TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER
);
CREATE TABLE devices (
	id                 TEXT PRIMARY KEY,
	user_id            TEXT NOT NULL,
	name               TEXT NOT NULL,
	oprf_public_key    BLOB NOT NULL,
	signing_public_key BLOB NOT NULL,
	key_id             TEXT NOT NULL,
	state              TEXT NOT NULL CHECK (state IN ('pending', 'active')),
	check_blinded      TEXT,
	created_at         INTEGER,
	activated_at       INTEGER
);
CREATE INDEX devices_active ON devices (user_id, created_at) WHERE state = 'active';
CREATE TABLE clients (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	key_prefix TEXT NOT NULL UNIQUE,
	key_hash   BLOB NOT NULL,
	scopes     TEXT,
	created_at INTEGER
);
CREATE TABLE records (
	id                 TEXT PRIMARY KEY,
	user_id            TEXT NOT NULL,
	client_id          TEXT NOT NULL,
	title              TEXT NOT NULL,
	content_type       TEXT NOT NULL,
	purpose            TEXT NOT NULL,
	state              TEXT NOT NULL CHECK (state IN ('awaiting_upload', 'pending_approval', 'sealed', 'rejected', 'expired')),
	created_at         INTEGER NOT NULL,
	size               INTEGER,
	content_sha256     BLOB,
	blob_name          TEXT,
	input              BLOB,
	device_key_id      TEXT,
	request_id         TEXT,
	expires_at         INTEGER,
	wrapped_dek        BLOB,
	approval_device_id TEXT,
	approval_statement BLOB,
	approval_signature BLOB,
	sealed_at          INTEGER
);
CREATE INDEX records_user ON records (user_id);
CREATE INDEX records_pending_due ON records (expires_at) WHERE state = 'pending_approval';
CREATE INDEX records_upload_due ON records (created_at) WHERE state = 'awaiting_upload';
CREATE TABLE requests (
	id                    TEXT PRIMARY KEY,
	kind                  TEXT NOT NULL CHECK (kind IN ('create', 'access')),
	user_id               TEXT NOT NULL,
	record_id             TEXT NOT NULL,
	session_id            TEXT NOT NULL,
	device_key_id         TEXT NOT NULL,
	requester_id          TEXT NOT NULL,
	requester_name        TEXT NOT NULL,
	purpose               TEXT NOT NULL,
	record_title          TEXT NOT NULL,
	record_content_type   TEXT NOT NULL,
	record_size           INTEGER NOT NULL,
	record_content_sha256 BLOB,
	blinded_elements      TEXT NOT NULL,
	state                 TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired')),
	created_at            INTEGER NOT NULL,
	expires_at            INTEGER NOT NULL,
	owner_node            TEXT NOT NULL,
	answer_decision       TEXT,
	answer_evaluated      TEXT,
	answer_proof          BLOB,
	answer_device_id      TEXT,
	answer_statement      BLOB,
	answer_signature      BLOB,
	answered_at           INTEGER,
	processed             INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX requests_user_pending ON requests (user_id, created_at, expires_at) WHERE state = 'pending';
CREATE INDEX requests_pending_due ON requests (expires_at) WHERE state = 'pending';
CREATE INDEX requests_owner_pending ON requests (owner_node, created_at) WHERE state = 'pending';
CREATE INDEX requests_owner_answered ON requests (owner_node, created_at) WHERE state IN ('approved', 'denied') AND processed = 0;
CREATE TABLE sessions (
	id                 TEXT PRIMARY KEY,
	record_id          TEXT NOT NULL,
	user_id            TEXT NOT NULL,
	requester_id       TEXT NOT NULL,
	purpose            TEXT NOT NULL,
	request_id         TEXT NOT NULL,
	state              TEXT NOT NULL CHECK (state IN ('pending_approval', 'open', 'consumed', 'denied', 'expired')),
	created_at         INTEGER NOT NULL,
	expires_at         INTEGER NOT NULL,
	downloads_left     INTEGER NOT NULL DEFAULT 0 CHECK (downloads_left >= 0),
	approval_device_id TEXT,
	approval_statement BLOB,
	approval_signature BLOB,
	opened_at          INTEGER
);
CREATE INDEX sessions_due ON sessions (expires_at) WHERE state IN ('pending_approval', 'open');
CREATE TABLE nonces (
	device_id  TEXT NOT NULL,
	nonce      TEXT NOT NULL,
	expires_at INTEGER NOT NULL,
	PRIMARY KEY (device_id, nonce)
);
CREATE INDEX nonces_expiry ON nonces (expires_at);
CREATE TABLE audit (
	user_id   TEXT NOT NULL,
	seq       INTEGER NOT NULL CHECK (seq > 0),
	event     TEXT NOT NULL,
	actor     TEXT NOT NULL,
	subject   TEXT NOT NULL,
	details   BLOB,
	at        INTEGER NOT NULL,
	prev_hash BLOB NOT NULL,
	hash      BLOB NOT NULL,
	PRIMARY KEY (user_id, seq)
);
`,
	// 2: the user's device set (DESIGN.md). The devices table is rebuilt
	// since SQLite cannot change a CHECK constraint; the user's pinned key
	// and the evidence of every confirmation and approval are new columns.
	`
CREATE TABLE devices_v2 (
	id                 TEXT PRIMARY KEY,
	user_id            TEXT NOT NULL,
	name               TEXT NOT NULL,
	oprf_public_key    BLOB NOT NULL,
	signing_public_key BLOB NOT NULL,
	key_id             TEXT NOT NULL,
	state              TEXT NOT NULL CHECK (state IN ('pending', 'active', 'revoked', 'suspended', 'awaiting_transfer', 'recovery_pending', 'cancelled')),
	check_blinded      TEXT,
	created_at         INTEGER,
	activated_at       INTEGER,
	state_at           INTEGER,
	enroll_signature   BLOB,
	check_evaluated    TEXT,
	check_proof        BLOB,
	add_statement      BLOB,
	add_signature      BLOB
);
INSERT INTO devices_v2 (id, user_id, name, oprf_public_key, signing_public_key, key_id, state, check_blinded, created_at, activated_at, state_at)
	SELECT id, user_id, name, oprf_public_key, signing_public_key, key_id, state, check_blinded, created_at, activated_at, activated_at FROM devices;
DROP TABLE devices;
ALTER TABLE devices_v2 RENAME TO devices;
CREATE INDEX devices_user ON devices (user_id, created_at);
ALTER TABLE users ADD COLUMN device_public_key BLOB;
ALTER TABLE users ADD COLUMN device_key_id TEXT;
ALTER TABLE records ADD COLUMN approval_evaluated TEXT;
ALTER TABLE records ADD COLUMN approval_proof BLOB;
ALTER TABLE sessions ADD COLUMN approval_evaluated TEXT;
ALTER TABLE sessions ADD COLUMN approval_proof BLOB;
`,
	// 3: facts about the whole store, written once (the master key id).
	`
CREATE TABLE settings (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`,
	// 4: the Web Push subscription of each device (DESIGN.md "Push"): one
	// per device, and an endpoint belongs to one device only.
	`
CREATE TABLE push_subscriptions (
	device_id TEXT PRIMARY KEY,
	endpoint  TEXT NOT NULL UNIQUE,
	p256dh    BLOB NOT NULL,
	auth      BLOB NOT NULL
);
`,
	// 5: adding a device by transfer (DESIGN.md, "The user's device set"):
	// requests of kind add_device name the device to add, which SQLite's
	// CHECK on kind forces a rebuild for; the transfer bundles, ciphertext
	// only, until fetched or expired.
	`
CREATE TABLE requests_v2 (
	id                    TEXT PRIMARY KEY,
	kind                  TEXT NOT NULL CHECK (kind IN ('create', 'access', 'add_device')),
	user_id               TEXT NOT NULL,
	record_id             TEXT NOT NULL,
	session_id            TEXT NOT NULL,
	device_id             TEXT NOT NULL DEFAULT '',
	device_key_id         TEXT NOT NULL,
	requester_id          TEXT NOT NULL,
	requester_name        TEXT NOT NULL,
	purpose               TEXT NOT NULL,
	record_title          TEXT NOT NULL,
	record_content_type   TEXT NOT NULL,
	record_size           INTEGER NOT NULL,
	record_content_sha256 BLOB,
	blinded_elements      TEXT NOT NULL,
	state                 TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'expired')),
	created_at            INTEGER NOT NULL,
	expires_at            INTEGER NOT NULL,
	owner_node            TEXT NOT NULL,
	answer_decision       TEXT,
	answer_evaluated      TEXT,
	answer_proof          BLOB,
	answer_device_id      TEXT,
	answer_statement      BLOB,
	answer_signature      BLOB,
	answered_at           INTEGER,
	processed             INTEGER NOT NULL DEFAULT 0
);
INSERT INTO requests_v2 (id, kind, user_id, record_id, session_id, device_key_id, requester_id, requester_name,
	purpose, record_title, record_content_type, record_size, record_content_sha256, blinded_elements, state,
	created_at, expires_at, owner_node, answer_decision, answer_evaluated, answer_proof, answer_device_id,
	answer_statement, answer_signature, answered_at, processed)
	SELECT id, kind, user_id, record_id, session_id, device_key_id, requester_id, requester_name,
	purpose, record_title, record_content_type, record_size, record_content_sha256, blinded_elements, state,
	created_at, expires_at, owner_node, answer_decision, answer_evaluated, answer_proof, answer_device_id,
	answer_statement, answer_signature, answered_at, processed FROM requests;
DROP TABLE requests;
ALTER TABLE requests_v2 RENAME TO requests;
CREATE INDEX requests_user_pending ON requests (user_id, created_at, expires_at) WHERE state = 'pending';
CREATE INDEX requests_pending_due ON requests (expires_at) WHERE state = 'pending';
CREATE INDEX requests_owner_pending ON requests (owner_node, created_at) WHERE state = 'pending';
CREATE INDEX requests_owner_answered ON requests (owner_node, created_at) WHERE state IN ('approved', 'denied') AND processed = 0;
CREATE TABLE transfers (
	device_id  TEXT PRIMARY KEY,
	user_id    TEXT NOT NULL,
	request_id TEXT NOT NULL,
	sender_id  TEXT NOT NULL,
	bundle     BLOB NOT NULL,
	statement  BLOB NOT NULL,
	signature  BLOB NOT NULL,
	expires_at INTEGER NOT NULL
);
CREATE INDEX transfers_due ON transfers (expires_at);
`,
	// 6: the platform a device enrolled with (DESIGN.md "The approval
	// app"): agent or web; empty for the devices enrolled before, which
	// did not say.
	`
ALTER TABLE devices ADD COLUMN platform TEXT NOT NULL DEFAULT '';
`,
	// 7: the ciphertext of small records (store.Staging.Content), in a
	// table of its own so that the updates of a record's row (seal, end)
	// do not rewrite it.
	`
CREATE TABLE record_contents (
	record_id TEXT PRIMARY KEY,
	content   BLOB NOT NULL
);
`,
}

// SchemaVersion is the schema version this binary writes.
func SchemaVersion() int { return len(migrations) }

// migrate brings the schema to SchemaVersion inside one write transaction,
// so that processes opening the file at the same time migrate it once.
func (s *Store) migrate(ctx context.Context) error {
	// Before the writer goroutine starts, so the writer pool's connection
	// is free for this transaction.
	return s.use(ctx, s.writer, "open", func() error { return s.retryBusy(func() error { return s.migrateTx(ctx) }) })
}

func (s *Store) migrateTx(ctx context.Context) error {
	{
		tx, err := s.writer.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var app, version int
		if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&app); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
			return err
		}
		switch {
		case app != 0 && app != applicationID:
			return fmt.Errorf("%w: %s has application id %#x", ErrNotAssent, s.path, app)
		case app == 0 && version != 0:
			return fmt.Errorf("%w: %s has schema version %d but no Assent application id", ErrNotAssent, s.path, version)
		case version > len(migrations):
			return fmt.Errorf("%w: %s has schema version %d, this binary knows up to %d; run a newer Assent", ErrNewerSchema, s.path, version, len(migrations))
		}
		if version == 0 {
			var tables int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
				return err
			}
			if tables != 0 {
				return fmt.Errorf("%w: %s holds tables of another application", ErrNotAssent, s.path)
			}
		}
		for v := version; v < len(migrations); v++ {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrating schema to version %d: %w", v+1, err)
			}
		}
		// Written even when the schema is current: the write proves now,
		// rather than at the first real change, that the file is writable.
		// PRAGMA takes no bound parameters; both values are integers of ours.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d; PRAGMA user_version = %d", applicationID, len(migrations))); err != nil {
			return err
		}
		return tx.Commit()
	}
}

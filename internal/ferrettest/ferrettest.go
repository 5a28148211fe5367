// Package ferrettest runs an embedded FerretDB v1 (the MongoDB wire protocol
// over SQLite) for the tests of store/mongo and cmd/assent, in a child
// process listening on a Unix socket in a directory the caller owns
// (StartProcess). The child is the command of the nested module
// internal/ferretdb, so that FerretDB's dependencies stay out of Assent's
// go.mod.
//
// FerretDB is a test engine for query semantics only (DESIGN.md, Storage): its
// findAndModify is not atomic, so no race test means anything against it.
// Tests that need a real MongoDB take its URI from ASSENT_TEST_MONGODB_URI.
package ferrettest

import (
	"net/url"
	"path/filepath"
)

// maxSocketPath is the room for a Unix socket path (sun_path is 108 bytes on
// Linux, 104 on the BSDs).
const maxSocketPath = 100

// socketURI is the MongoDB connection string of a server on the socket in
// dir (no database).
func socketURI(dir string) string {
	return "mongodb://" + url.PathEscape(filepath.Join(dir, "ferretdb.sock")) + "/"
}

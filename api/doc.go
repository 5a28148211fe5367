// Package api is Assent's wire contract as code: the paths, headers, scopes,
// states, kinds and decisions of DESIGN.md's HTTP API, the JSON bodies of
// every route, the error values with the HTTP status each carries, the push
// payload and the webhook signature.
//
// It imports only the standard library, so that a third party (package
// client), a device and the server can all depend on it and agree by
// construction. The golden bodies in testdata/ are what the real server
// answers; a test checks they still decode into these types and re-encode
// to the same bytes.
//
// Encodings (DESIGN.md "HTTP API"): binary fields are []byte, which
// encoding/json writes as base64 standard encoding with padding; times are
// time.Time, RFC 3339 in UTC with whole seconds.
package api

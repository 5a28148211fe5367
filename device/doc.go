// Package device is the user's side of Assent: the logic of the phone (or of
// the `assent device` agent) as DESIGN.md describes it in "Actors",
// "Enrollment", "Sealing a record", "Opening a record" and "Device request
// authentication", with the wire details of the lead's WIRE notes.
//
// The parts, each in its own file:
//
//   - Keystore (keystore.go): the device share kD, the Ed25519 signing key and
//     the enrolled identity, in one file encrypted under a passphrase
//     (Argon2id, XChaCha20-Poly1305), mode 0600, written atomically.
//   - Client (client.go): the HTTP client of the /v1/device API, which signs
//     every call as "Device request authentication" specifies, enrolls
//     (enroll.go), reads the event stream (events.go) and verifies the user's
//     audit chain (audit.go).
//   - Ledger (ledger.go): the device's own append-only, hash-chained record of
//     every answer it gave. It is what an access request is shown against,
//     and what keeps a request from ever being answered twice.
//   - Agent (agent.go): listens for requests, checks each one (check.go),
//     asks a Policy, evaluates the POPRF with the info it builds itself,
//     signs the approval statement and answers (answer.go).
//   - Storage (storage.go): where the sealed keystore, the ledger's bytes and
//     the pinned audit head live, as bytes behind a small interface (issue
//     12): FileStorage (filestore.go, the files of `assent device`),
//     MemoryStorage (memstore.go), IndexedDB in the browser (webapp/wasm);
//     package device/storagetest is the one conformance check of all of
//     them. ExportState and ImportState carry ledger and head on transfer.
//   - History (history.go, head.go): DESIGN.md's "The device watches":
//     VerifyHistory pins the last audit head it verified and refuses a
//     chain that does not extend it, checks the ledger's answers against the
//     chain, and reports the device set's changes and other devices'
//     answers that the device did not expect, as Findings.
//
// # What the device refuses
//
// The device never evaluates info bytes from the server: it builds
// info = threshold.RecordInfo(user_id, record_id) from the ids it shows. A
// request is refused, without asking the policy and without any evaluation
// or signature, when its kind is unknown, its user is not the enrolled user,
// its device_key_id is not this device's key id, it has expired, its blinded
// elements are not exactly one well-formed group element, or its ids are
// malformed; a create request is also refused when its record id (UUIDv7) is
// older than the request's lifetime plus five minutes, or when the ledger
// already holds that record. An access request is shown with the record as
// the ledger describes it, and the prompt says so when the ledger does not
// know the record.
package device

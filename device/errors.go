package device

import "errors"

// Errors returned by this package, wrapped with detail that is never secret;
// check them with errors.Is.
var (
	// ErrPassphrase: the keystore did not open with the passphrase given. The
	// AEAD cannot tell a wrong passphrase from an altered file, so the message
	// names both.
	ErrPassphrase = errors.New("device: wrong passphrase (or the keystore file was altered)")
	// ErrEmptyPassphrase: a keystore cannot be created with an empty passphrase.
	ErrEmptyPassphrase = errors.New("device: empty passphrase")
	// ErrKeystore: the keystore file is missing, malformed, too open to be
	// trusted (group or other permission bits) or cannot be written.
	ErrKeystore = errors.New("device: keystore unusable")
	// ErrKeystoreExists: CreateKeystore refuses to replace an existing file.
	ErrKeystoreExists = errors.New("device: keystore already exists")
	// ErrLedger: the ledger file is malformed or was tampered with (a line
	// edited, removed, inserted or reordered), or cannot be written.
	ErrLedger = errors.New("device: ledger damaged")
	// ErrLedgerLocked: another process has the ledger open for writing.
	ErrLedgerLocked = errors.New("device: ledger in use by another process")
	// ErrAnswered: the request was answered already (the ledger holds an
	// answer to it); the device never answers a request twice.
	ErrAnswered = errors.New("device: request already answered")
	// ErrBusy: the request is being handled by another call right now.
	ErrBusy = errors.New("device: request is being handled")
	// ErrRefused: the request failed the device's checks and was not
	// answered; the wrapping error says which check.
	ErrRefused = errors.New("device: request refused")
	// ErrNotPending: the server no longer has the request pending.
	ErrNotPending = errors.New("device: request is not pending")
	// ErrServerURL: the server URL is not an absolute http(s) URL, or is
	// plain http to a host other than loopback.
	ErrServerURL = errors.New("device: invalid server URL")
	// ErrPlatform: ClientOptions.Platform is none of the API's platforms.
	ErrPlatform = errors.New("device: unknown platform")
	// ErrProtocol: the server answered with something the API does not
	// allow (a malformed body, an unexpected status, a broken audit chain).
	ErrProtocol = errors.New("device: unexpected server response")
	// ErrNotEnrolled: the operation needs an enrolled identity.
	ErrNotEnrolled = errors.New("device: not enrolled")
	// ErrTransfer: a transfer bundle failed the new device's checks (a
	// statement that does not name this device, its signing key or its
	// transfer key, a bundle that does not open or decode, a device share
	// whose public key is not the user's pkD); nothing was imported.
	ErrTransfer = errors.New("device: transfer refused")
	// ErrPairing: a pairing string is malformed or names another device
	// than the add_device request; nothing was signed or sent.
	ErrPairing = errors.New("device: pairing string refused")
	// ErrNoKeystore: the storage holds no keystore yet (always wrapped
	// together with ErrKeystore).
	ErrNoKeystore = errors.New("device: no keystore")
	// ErrHead: the pinned audit head in the storage is malformed, or cannot
	// be read or written.
	ErrHead = errors.New("device: pinned audit head unusable")
	// ErrHeadConflict: the pinned audit head is not the one the caller
	// expected to replace (another process pinned one meanwhile); nothing
	// was changed.
	ErrHeadConflict = errors.New("device: the pinned audit head changed meanwhile")
	// ErrHistory: the user's audit chain does not verify, does not extend
	// the head this device pinned, or contradicts the device's ledger (an
	// accepted answer missing or altered, a forged signature): the server's
	// history was broken or rewritten. Nothing is pinned.
	ErrHistory = errors.New("device: the audit history was broken or rewritten")
	// ErrNotEmpty: ImportState refuses a storage that holds a ledger line or
	// a pinned head already.
	ErrNotEmpty = errors.New("device: the storage already holds a ledger or an audit head")
	// ErrKeyMismatch: a recovered device share is not the enrolled one.
	ErrKeyMismatch = errors.New("device: recovered key does not match the enrolled device key")
)

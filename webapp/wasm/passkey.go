//go:build js && wasm

package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/assent-dev/assent/device"
)

// Passkey unlock (issue 12, DESIGN.md "The approval app"): where the
// browser offers the WebAuthn PRF extension, a platform passkey with user
// verification unlocks the device instead of the passphrase. The page asks
// the authenticator for PRF(credential, PasskeyPRFSalt) and passes the 32
// bytes here; they open a second keystore, holding the same device secrets,
// in the IndexedDB database passkeyDBName. The PRF output has 256 bits of
// entropy, so that keystore's Argon2id is the cheapest the keystore format
// allows: the work is in the authenticator, not in the KDF. The
// passphrase keystore stays, as the fallback. Each approval of a device
// unlocked by passkey asks for the gesture again: the PRF output must open
// the passkey keystore once more before the agent approves.
const (
	passkeyDBName = "assent-device-passkey"
	// PasskeyPRFSalt is the PRF input the page evaluates (the browser
	// hashes it again with WebAuthn's own context).
	PasskeyPRFSalt = "assent/device-passkey-prf/v1"
	keyPasskeyMeta = "passkey"
	prfOutputSize  = 32
)

// passkeyKDF is the keystore KDF under a PRF output (see above).
var passkeyKDF = device.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

var (
	errNoPasskey   = errors.New("no passkey is set up on this device")
	errPRF         = errors.New("the passkey did not give a 32-byte PRF output")
	errGesture     = errors.New("this device was unlocked with a passkey: approving needs the passkey again")
	errPasskeyOpen = errors.New("the passkey did not open this device's passkey keystore (another passkey?)")
)

// passkeyMeta is what the app keeps about the passkey, in the clear: the
// credential id to ask for, and the WebAuthn backup flags (BE, BS) of its
// creation, so that the devices screen can say whether the passkey is
// synced to other devices of its provider.
type passkeyMeta struct {
	CredentialID   string    `json:"credential_id"` // base64url, unpadded
	BackupEligible bool      `json:"backup_eligible"`
	BackedUp       bool      `json:"backed_up"`
	CreatedAt      time.Time `json:"created_at"`
}

func (a *app) passkeyStore(ctx context.Context) (*IDB, error) {
	return a.openOnce(ctx, &a.pk, passkeyDBName)
}

func decodePRF(prfB64 string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(prfB64)
	if err != nil || len(b) != prfOutputSize {
		clear(b)
		return nil, errPRF
	}
	return b, nil
}

// passkeyInfo is the passkey part of stateView.
type passkeyInfo struct {
	SetUp          bool   `json:"set_up"`
	CredentialID   string `json:"credential_id,omitempty"`
	BackupEligible bool   `json:"backup_eligible"`
	BackedUp       bool   `json:"backed_up"`
	Salt           string `json:"salt"`
}

func (a *app) passkeyState(ctx context.Context) passkeyInfo {
	info := passkeyInfo{Salt: PasskeyPRFSalt}
	st, err := a.passkeyStore(ctx)
	if err != nil {
		return info
	}
	b, err := st.getKV(ctx, keyPasskeyMeta)
	if err != nil || b == nil {
		return info
	}
	var m passkeyMeta
	if json.Unmarshal(b, &m) != nil {
		return info
	}
	if _, err := st.ReadKeystore(ctx); err != nil {
		return info
	}
	info.SetUp, info.CredentialID, info.BackupEligible, info.BackedUp = true, m.CredentialID, m.BackupEligible, m.BackedUp
	return info
}

// passkeySetup seals the unlocked identity under a passkey's PRF output.
func (a *app) passkeySetup(prfB64, credentialID string, backupEligible, backedUp bool) (any, error) {
	_, id, _, _, err := a.unlocked()
	if err != nil {
		return nil, err
	}
	prf, err := decodePRF(prfB64)
	if err != nil {
		return nil, err
	}
	defer clear(prf)
	if _, err := base64.RawURLEncoding.DecodeString(credentialID); err != nil || credentialID == "" {
		return nil, errors.New("the credential id is not base64url")
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	st, err := a.passkeyStore(ctx)
	if err != nil {
		return nil, err
	}
	meta, err := json.Marshal(&passkeyMeta{CredentialID: credentialID, BackupEligible: backupEligible, BackedUp: backedUp, CreatedAt: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	if err := device.CreateKeystoreIn(ctx, st, prf, id, rand.Reader, passkeyKDF); err != nil {
		if errors.Is(err, device.ErrKeystoreExists) {
			return nil, errors.New("a passkey is set up already")
		}
		return nil, err
	}
	if err := st.putKV(ctx, keyPasskeyMeta, meta); err != nil {
		return nil, err
	}
	return a.state(), nil
}

// openWithPasskey opens the passkey keystore with a PRF output.
func (a *app) openWithPasskey(ctx context.Context, prfB64 string) (*device.Identity, error) {
	prf, err := decodePRF(prfB64)
	if err != nil {
		return nil, err
	}
	defer clear(prf)
	st, err := a.passkeyStore(ctx)
	if err != nil {
		return nil, err
	}
	id, err := device.OpenKeystoreIn(ctx, st, prf)
	switch {
	case errors.Is(err, device.ErrNoKeystore):
		return nil, errNoPasskey
	case errors.Is(err, device.ErrPassphrase):
		return nil, errPasskeyOpen
	case err != nil:
		return nil, fmt.Errorf("passkey keystore: %w", err)
	}
	return id, nil
}

// unlockPasskey unlocks the device with a passkey's PRF output.
func (a *app) unlockPasskey(prfB64 string) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if _, err := a.storage(ctx); err != nil {
		return nil, err
	}
	id, err := a.openWithPasskey(ctx, prfB64)
	if err != nil {
		return nil, err
	}
	id.State = device.StateActive
	if err := a.start(ctx, id); err != nil {
		id.Destroy()
		return nil, err
	}
	a.mu.Lock()
	a.viaPasskey = true
	a.mu.Unlock()
	return a.state(), nil
}

// gesture checks, for a device unlocked by passkey, that prfB64 is a fresh
// PRF output of its passkey (the page asked for the gesture).
func (a *app) gesture(prfB64 string) error {
	a.mu.Lock()
	need := a.viaPasskey
	a.mu.Unlock()
	if !need {
		return nil
	}
	if prfB64 == "" {
		return errGesture
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	id, err := a.openWithPasskey(ctx, prfB64)
	if err != nil {
		return err
	}
	id.Destroy()
	return nil
}

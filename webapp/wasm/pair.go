//go:build js && wasm

package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/threshold"
)

// Adding a device by transfer (DESIGN.md, "Adding a device"): the new
// device shows a pairing string; the user carries it to this app (pasted,
// or scanned from its QR code), which finds the add_device request for
// that device, shows it, asks for fresh user verification (the passphrase,
// or the passkey when it unlocked the app) and answers with
// device.Client.AnswerAddDevice: for an approval, kD, the ledger and the
// verified audit head, sealed to the new device's transfer key.

type addDeviceView struct {
	RequestID string    `json:"request_id"`
	DeviceID  string    `json:"device_id"`
	Name      string    `json:"name"` // untrusted: the name the new device enrolled with
	ExpiresAt time.Time `json:"expires_at"`
}

// findAddDevice returns the pending add_device request for the device the
// pairing string names, checked.
func (a *app) findAddDevice(ctx context.Context, pairing string) (*device.Request, *device.AddDevice, error) {
	c, id, _, _, err := a.unlocked()
	if err != nil {
		return nil, nil, err
	}
	newID, _, err := threshold.ParsePairingString(strings.TrimSpace(pairing))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", device.ErrPairing, err)
	}
	reqs, err := c.PendingRequests(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range reqs {
		if r.Kind == api.KindAddDevice && r.NewDevice != nil && r.NewDevice.DeviceID == newID {
			add, err := device.CheckAddDevice(id, r, time.Now(), device.MaxApprovalLifetime)
			if err != nil {
				return nil, nil, err
			}
			return r, add, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: no pending request to add device %s (check the pairing string on the new device)", device.ErrPairing, newID)
}

func (a *app) showAddDevice(pairing string) (any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	_, add, err := a.findAddDevice(ctx, pairing)
	if err != nil {
		return nil, err
	}
	return addDeviceView{RequestID: add.RequestID, DeviceID: add.DeviceID, Name: add.Name, ExpiresAt: add.ExpiresAt}, nil
}

type addDeviceResult struct {
	RequestID string `json:"request_id"`
	Decision  string `json:"decision"`
	State     string `json:"state"`
	Recorded  bool   `json:"recorded"` // the new device is in the ledger as one this device verified
}

// answerAddDevice answers the add_device request of the pairing string,
// after fresh user verification: the passphrase opens the keystore again,
// or, when a passkey unlocked the app, prfB64 opens the passkey keystore.
func (a *app) answerAddDevice(pairing, decision, passphrase, prfB64 string) (any, error) {
	var d device.Decision
	switch decision {
	case "approve":
		d = device.Approve
	case "deny":
		d = device.Deny
	default:
		return nil, errDecision
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := a.verifyUser(ctx, passphrase, prfB64); err != nil {
		return nil, err
	}
	req, _, err := a.findAddDevice(ctx, pairing)
	if err != nil {
		return nil, err
	}
	c, _, l, _, err := a.unlocked()
	if err != nil {
		return nil, err
	}
	var st *device.State
	if d == device.Approve {
		if st, err = l.ExportState(ctx); err != nil {
			return nil, err
		}
	}
	state, err := c.AnswerAddDevice(ctx, req, d, strings.TrimSpace(pairing), st)
	if err != nil {
		return nil, err
	}
	res := addDeviceResult{RequestID: req.RequestID, Decision: string(d), State: state}
	if d == device.Approve {
		res.Recorded = l.AppendDevice(req.NewDevice.DeviceID, req.NewDevice.SigningPublicKey, req.RequestID, time.Now()) == nil
	}
	return res, nil
}

// verifyUser is the fresh user verification of a device set change.
func (a *app) verifyUser(ctx context.Context, passphrase, prfB64 string) error {
	a.mu.Lock()
	viaPasskey := a.viaPasskey
	a.mu.Unlock()
	if viaPasskey && prfB64 != "" {
		return a.gesture(prfB64)
	}
	if passphrase == "" {
		return errors.New("enter your passphrase to confirm")
	}
	pass := []byte(passphrase)
	defer clear(pass)
	id, err := device.OpenKeystoreIn(ctx, a.st, pass)
	if err != nil {
		return err
	}
	id.Destroy()
	return nil
}

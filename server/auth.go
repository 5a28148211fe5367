package server

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/internal/ids"
	"github.com/assent-dev/assent/store"
	"github.com/assent-dev/assent/threshold"
)

// Device request authentication (DESIGN.md, "Device request
// authentication").
const (
	HeaderDevice    = "Assent-Device"
	HeaderTimestamp = "Assent-Timestamp"
	HeaderNonce     = "Assent-Nonce"
	HeaderSignature = "Assent-Signature"

	// MaxClockSkew is how far a device's timestamp may be from the server's
	// clock.
	MaxClockSkew = 60 * time.Second
	// NonceWindow is how long a device's nonce is remembered at least,
	// from its first use. A nonce is also remembered until its call's
	// timestamp can no longer pass (timestamp + MaxClockSkew, plus a
	// second), which is later than NonceWindow when the device's clock is
	// ahead: a replay is refused for as long as its timestamp would pass.
	NonceWindow = 120 * time.Second

	// nonceMargin keeps a nonce a little past the last second its
	// timestamp passes, so that no boundary case of "expired at now"
	// lets it through.
	nonceMargin = time.Second

	nonceSize = 16
)

// Keys of the values auth middleware leaves in the Echo context.
const (
	ctxClient = "assent.client"
	ctxDevice = "assent.device"
)

// errAuth is the one opaque failure of every authentication check.
var errAuth = fail(errUnauthenticated, msgUnauthenticated)

// clientAuth authenticates a third party by its API key and requires scope
// (none if empty).
func (s *Server) clientAuth(scope string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			key, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
			if !ok {
				return errAuth
			}
			prefix, ok := apiKeyPrefix(key)
			if !ok {
				return errAuth
			}
			cl, err := s.store.ClientByPrefix(c.Request().Context(), prefix)
			if errors.Is(err, store.ErrNotFound) {
				return errAuth
			}
			if err != nil {
				return storeFail(err, "client")
			}
			sum := sha256.Sum256([]byte(key))
			if subtle.ConstantTimeCompare(sum[:], cl.KeyHash) != 1 {
				return errAuth
			}
			if scope != "" && !slices.Contains(cl.Scopes, scope) {
				return fail(errForbidden, "the API key lacks scope "+scope)
			}
			c.Set(ctxClient, cl)
			setLogAttrs(c, "client_id", cl.ID)
			return next(c)
		}
	}
}

// deviceAuth authenticates a signed device call: headers well formed,
// timestamp within MaxClockSkew, an active device whose signing key signed
// DeviceAuthMessage over the exact request target and body, and a nonce not
// seen in NonceWindow. Every failure is the same 401. The body (at most
// maxJSONBody bytes, 413 past it; within Config.ReadTimeout) is read here,
// once the device is known, and handed on unchanged.
func (s *Server) deviceAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return s.deviceAuthFor(nil, maxJSONBody)(next)
}

// deviceAuthFor is deviceAuth for a route that a device may call in the
// states states accepts (nil: active, or a recovery that has ripened), with
// bodies of at most limit bytes.
func (s *Server) deviceAuthFor(states func(string) bool, limit int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return s.deviceAuthStates(next, states, limit)
	}
}

func (s *Server) deviceAuthStates(next echo.HandlerFunc, states func(string) bool, limit int64) echo.HandlerFunc {
	return func(c *echo.Context) error {
		r := c.Request()
		ctx := r.Context()
		deviceID := r.Header.Get(HeaderDevice)
		ts := r.Header.Get(HeaderTimestamp)
		nonce := r.Header.Get(HeaderNonce)
		sig, sigErr := base64.StdEncoding.Strict().DecodeString(r.Header.Get(HeaderSignature))
		if ids.Check(ids.Device, deviceID) != nil || sigErr != nil || !validNonce(nonce) {
			return errAuth
		}
		now := s.now()
		sent, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || strconv.FormatInt(sent, 10) != ts {
			return errAuth
		}
		if skew := now.Sub(time.Unix(sent, 0)); skew > MaxClockSkew || skew < -MaxClockSkew {
			return errAuth
		}
		// The device is known and active before its body is read.
		dev, err := s.store.GetDevice(ctx, deviceID)
		if errors.Is(err, store.ErrNotFound) {
			return errAuth
		}
		if err != nil {
			return storeFail(err, "device")
		}
		// The state is read from the store on every call, so a revoked or
		// suspended device is refused at once, by every node. A recovery
		// past its waiting time becomes active on the device's first call,
		// but only once that call's signature verifies.
		if states != nil {
			if !states(dev.State) {
				return errAuth
			}
		} else if dev.State != store.DeviceActive && dev.State != store.DeviceRecoveryPending {
			return errAuth
		}
		if r.ContentLength > limit {
			return fail(errTooLarge, "request body over "+strconv.FormatInt(limit, 10)+" bytes")
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Response(), r.Body, limit))
		if err != nil {
			return jsonFail(err)
		}
		msg := threshold.DeviceAuthMessage(r.Method, r.RequestURI, ts, nonce, body)
		if threshold.Verify(dev.SigningPublicKey, msg, sig) != nil {
			return errAuth
		}
		// Only a verified call may spend a nonce, or anyone could burn the
		// nonces a device is about to use.
		if s.nonces != nil {
			err = nil
			if !s.nonces.remember(deviceID, nonce, nonceExpiry(now, sent), now) {
				err = store.ErrConflict
			}
		} else {
			err = s.store.RememberNonce(ctx, deviceID, nonce, nonceExpiry(now, sent), now)
		}
		if errors.Is(err, store.ErrConflict) {
			return errAuth
		}
		if err != nil {
			return storeFail(err, "nonce")
		}
		if states == nil && dev.State == store.DeviceRecoveryPending {
			if _, err := s.ripeRecovery(ctx, dev); err != nil {
				return err
			}
			if dev.State != store.DeviceActive {
				return errAuth
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		c.Set(ctxDevice, dev)
		setLogAttrs(c, "device_id", dev.ID)
		return next(c)
	}
}

// nonceExpiry is until when a nonce first used at now with timestamp sent
// is remembered: NonceWindow, and at least until the timestamp is past the
// skew the server accepts.
func nonceExpiry(now time.Time, sent int64) time.Time {
	unusable := time.Unix(sent, 0).Add(MaxClockSkew + nonceMargin)
	if until := now.Add(NonceWindow); until.After(unusable) {
		return until
	}
	return unusable
}

// validNonce reports whether n is the canonical base64 of 16 bytes.
func validNonce(n string) bool {
	b, err := base64.StdEncoding.Strict().DecodeString(n)
	return err == nil && len(b) == nonceSize
}

// authClient returns the client clientAuth authenticated.
func authClient(c *echo.Context) *store.Client {
	cl, _ := c.Get(ctxClient).(*store.Client)
	return cl
}

// authDevice returns the device deviceAuth authenticated.
func authDevice(c *echo.Context) *store.Device {
	d, _ := c.Get(ctxDevice).(*store.Device)
	return d
}

// hasScope reports whether the authenticated client holds scope.
func hasScope(c *echo.Context, scope string) bool {
	cl := authClient(c)
	return cl != nil && slices.Contains(cl.Scopes, scope)
}

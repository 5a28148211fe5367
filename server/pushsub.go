package server

import (
	"crypto/ecdh"
	"errors"
	"net/http"
	"net/netip"
	"net/url"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/store"
)

// msgNoWebPush is the answer of the push-subscription routes on a server
// without Web Push.
const msgNoWebPush = "this server does not send Web Push"

// pushConfig answers GET /v1/device/push-subscription with the VAPID public
// key a browser subscribes with.
func (s *Server) pushConfig(c *echo.Context) error {
	if s.webPush == nil {
		return fail(errNotFound, msgNoWebPush)
	}
	return c.JSON(http.StatusOK, api.PushConfig{VAPIDPublicKey: s.webPush.PublicKey()})
}

// putPushSubscription answers POST /v1/device/push-subscription: it makes
// the body the calling device's subscription, 201 when that changed
// something, 200 when the device had exactly it already.
func (s *Server) putPushSubscription(c *echo.Context) error {
	if s.webPush == nil {
		return fail(errNotFound, msgNoWebPush)
	}
	caller := authDevice(c)
	var in api.PushSubscription
	if err := decodeJSON(c, &in); err != nil {
		return err
	}
	if err := checkPushEndpoint(in.Endpoint, s.cfg.PushAllowLoopback); err != nil {
		return err
	}
	// NewPublicKey accepts only a 65-byte uncompressed point on the curve.
	if _, err := ecdh.P256().NewPublicKey(in.P256dh); err != nil {
		return fail(errBadRequest, "p256dh must be an uncompressed P-256 point (65 bytes)")
	}
	if len(in.Auth) != store.PushAuthSize {
		return fail(errBadRequest, "auth must be 16 bytes")
	}
	changed, err := s.store.PutPushSubscription(c.Request().Context(), &store.PushSubscription{
		DeviceID: caller.ID, Endpoint: in.Endpoint, P256dh: in.P256dh, Auth: in.Auth,
	})
	if errors.Is(err, store.ErrConflict) {
		return failCause(errConflict, "the endpoint is another device's subscription", err)
	}
	if err != nil {
		return storeFail(err, "push subscription")
	}
	status := http.StatusOK
	if changed {
		status = http.StatusCreated
	}
	return c.JSON(status, api.PushConfig{VAPIDPublicKey: s.webPush.PublicKey()})
}

// checkPushEndpoint accepts an absolute https URL with a host, no user
// info or fragment, of at most store.MaxPushEndpoint bytes, whose host, if
// an IP address, is public. With allowLoopback, a loopback host is also
// accepted, over http too (tests and trials). The messages never repeat
// the URL: it is a capability.
func checkPushEndpoint(endpoint string, allowLoopback bool) error {
	if len(endpoint) > store.MaxPushEndpoint {
		return fail(errBadRequest, "the endpoint is too long")
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return fail(errBadRequest, "the endpoint must be an absolute https URL with a host")
	}
	host := u.Hostname()
	loopback := host == "localhost"
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		loopback = ip.IsLoopback()
		if !loopback && (!ip.IsGlobalUnicast() || ip.IsPrivate()) {
			return fail(errBadRequest, "the endpoint's address is not public")
		}
	}
	switch {
	case loopback && !allowLoopback:
		return fail(errBadRequest, "the endpoint's address is not public")
	case u.Scheme == "https", u.Scheme == "http" && loopback:
		return nil
	}
	return fail(errBadRequest, "the endpoint must be an https URL")
}

package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/assent-dev/assent/api"
)

// CORS for the approval app (DESIGN.md "The approval app"): the app is
// served from an origin the API operator does not control, and the API
// answers cross-origin calls from the origins of Config.AppOrigins only.
// Nothing else is relaxed: the API sends no credentials-mode cookies (it
// has none), and an origin not on the list gets no CORS header at all, so
// the browser keeps the answer from its page.
const (
	corsAllowMethods = "GET, POST, OPTIONS"
	corsMaxAge       = "600"
)

// corsAllowHeaders are the request headers the device sends: its JSON body
// and the four headers of "Device request authentication".
var corsAllowHeaders = strings.Join([]string{
	"Content-Type", "Accept", api.HeaderDevice, api.HeaderTimestamp, api.HeaderNonce, api.HeaderSignature,
}, ", ")

// errAppOrigin is the error of CheckAppOrigin.
var errAppOrigin = errors.New("app origin must be scheme://host[:port] (https, or http on a loopback host), without a path")

// CheckAppOrigin reports whether origin is a serialized web origin fit for
// the CORS allow-list: https://host[:port], or http:// to localhost or a
// loopback address (trials); lower case, no path, query, fragment or user
// info, no trailing slash. It fails with an error wrapping ErrConfig.
func CheckAppOrigin(origin string) error {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" ||
		u.Opaque != "" || u.ForceQuery || strings.ToLower(origin) != origin || u.Scheme+"://"+u.Host != origin {
		return fmt.Errorf("%w: %q: %v", ErrConfig, origin, errAppOrigin)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("%w: %q: %v", ErrConfig, origin, errAppOrigin)
}

// cors answers the preflight of an allowed origin and marks its answers,
// and leaves every other request as it is. A preflight from an origin not
// on the list is answered 403 without CORS headers.
func (s *Server) cors(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		req := c.Request()
		origin := req.Header.Get("Origin")
		if origin == "" {
			return next(c)
		}
		h := c.Response().Header()
		h.Add("Vary", "Origin")
		allowed := slices.Contains(s.cfg.AppOrigins, origin)
		preflight := req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != ""
		if preflight {
			h.Add("Vary", "Access-Control-Request-Method")
			h.Add("Vary", "Access-Control-Request-Headers")
			if !allowed {
				return c.NoContent(http.StatusForbidden)
			}
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", corsMaxAge)
			return c.NoContent(http.StatusNoContent)
		}
		if allowed {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", api.HeaderRequestID+", "+api.HeaderRetryAfter)
		}
		return next(c)
	}
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

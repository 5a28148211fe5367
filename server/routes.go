package server

import (
	"net/http"

	"github.com/labstack/echo/v5"
)

// authKind is how a route authenticates its caller.
type authKind int

const (
	authOpen     authKind = iota // health checks, and enrollment (the code or the signature in the body is the credential)
	authKey                      // a third party's API key, with the route's scope if it names one
	authSigned                   // a signed device call
	authTransfer                 // a signed call of a device waiting for its transfer bundle
	authAnswer                   // a signed device call whose body may carry a transfer bundle
)

// route is one endpoint of the API: the whole API is the table in routes,
// so what each endpoint requires is read in one place.
type route struct {
	method, path string
	auth         authKind
	scope        string // for authKey; empty: any valid key, the handler decides
	handler      echo.HandlerFunc
}

// routes is DESIGN.md's endpoint table.
func (s *Server) routes() []route {
	rs := []route{
		{http.MethodGet, "/healthz", authOpen, "", s.healthz},
		{http.MethodGet, "/readyz", authOpen, "", s.readyz},
		{http.MethodGet, "/v1/openapi.json", authOpen, "", s.openAPI},

		{http.MethodPost, "/v1/users", authKey, ScopeUsersAdmin, s.createUser},
		{http.MethodGet, "/v1/users", authKey, ScopeUsersAdmin, s.findUser}, // ?external_id=
		{http.MethodGet, "/v1/users/:uid", authKey, ScopeUsersAdmin, s.getUser},
		{http.MethodPost, "/v1/users/:uid/enrollment", authKey, ScopeUsersAdmin, s.newEnrollment},
		{http.MethodGet, "/v1/users/:uid/audit", authKey, ScopeUsersAdmin, s.userAudit},
		{http.MethodGet, "/v1/users/:uid/devices", authKey, "", s.userDevices}, // users:admin (creator) or records:access
		{http.MethodDelete, "/v1/users/:uid/devices/:device_id", authKey, ScopeUsersAdmin, s.suspendDevice},
		{http.MethodPost, "/v1/users/:uid/records", authKey, ScopeRecordsWrite, s.createRecord},
		{http.MethodPut, "/v1/records/:rid/content", authKey, ScopeRecordsWrite, s.uploadContent},
		{http.MethodGet, "/v1/records/:rid", authKey, "", s.getRecord}, // creator or records:access
		{http.MethodPost, "/v1/records/:rid/access", authKey, ScopeRecordsAccess, s.requestAccess},
		{http.MethodGet, "/v1/sessions/:sid", authKey, "", s.getSession},              // the requester
		{http.MethodGet, "/v1/sessions/:sid/content", authKey, "", s.downloadContent}, // the requester

		{http.MethodPost, "/v1/device/enroll", authOpen, "", s.enroll},
		{http.MethodPost, "/v1/device/enroll/confirm", authOpen, "", s.confirmEnrollment},
		{http.MethodGet, "/v1/device/requests", authSigned, "", s.listDeviceRequests},
		{http.MethodGet, "/v1/device/requests/:id", authSigned, "", s.getDeviceRequest},
		{http.MethodPost, "/v1/device/requests/:id/response", authAnswer, "", s.answerRequest},
		{http.MethodGet, "/v1/device/events", authSigned, "", s.deviceEvents},
		{http.MethodGet, "/v1/device/audit", authSigned, "", s.deviceAudit},
		{http.MethodGet, "/v1/device/push-subscription", authSigned, "", s.pushConfig},
		{http.MethodPost, "/v1/device/push-subscription", authSigned, "", s.putPushSubscription},
		{http.MethodPost, "/v1/device/devices/:device_id/revoke", authSigned, "", s.revokeDevice},
		{http.MethodPost, "/v1/device/devices/:device_id/cancel", authSigned, "", s.cancelDevice},
		{http.MethodPost, "/v1/device/devices/:device_id/reactivate", authSigned, "", s.reactivateDevice},
		{http.MethodGet, "/v1/device/transfer", authTransfer, "", s.getTransfer},
	}
	if s.baseline != nil {
		rs = append(rs, route{http.MethodPut, BaselineUploadPath, authKey, ScopeRecordsWrite, s.baselineUpload})
	}
	return rs
}

// routeAuth returns the middleware a route's auth kind requires.
func (s *Server) routeAuth(rt route) []echo.MiddlewareFunc {
	switch rt.auth {
	case authKey:
		return []echo.MiddlewareFunc{s.clientAuth(rt.scope)}
	case authSigned:
		return []echo.MiddlewareFunc{s.deviceAuth}
	case authTransfer:
		return []echo.MiddlewareFunc{s.deviceAuthFor(transferStates, maxJSONBody)}
	case authAnswer:
		return []echo.MiddlewareFunc{s.deviceAuthFor(nil, maxTransferBody)}
	}
	return nil
}

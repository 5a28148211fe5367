package api

import "net/url"

// Routes of DESIGN.md's table, as patterns with {name} placeholders. The
// Path helpers below fill them in with escaped ids.
const (
	PathHealthz                = "/healthz"
	PathReadyz                 = "/readyz"
	PathOpenAPI                = "/v1/openapi.json"
	PathUsers                  = "/v1/users"
	PathUser                   = "/v1/users/{uid}"
	PathUserEnrollment         = "/v1/users/{uid}/enrollment"
	PathUserAudit              = "/v1/users/{uid}/audit"
	PathUserRecords            = "/v1/users/{uid}/records"
	PathUserDevices            = "/v1/users/{uid}/devices"
	PathUserDevice             = "/v1/users/{uid}/devices/{device_id}"
	PathRecord                 = "/v1/records/{rid}"
	PathRecordContent          = "/v1/records/{rid}/content"
	PathRecordAccess           = "/v1/records/{rid}/access"
	PathSession                = "/v1/sessions/{sid}"
	PathSessionContent         = "/v1/sessions/{sid}/content"
	PathDeviceEnroll           = "/v1/device/enroll"
	PathDeviceConfirm          = "/v1/device/enroll/confirm"
	PathDeviceRequests         = "/v1/device/requests"
	PathDeviceRequest          = "/v1/device/requests/{request_id}"
	PathDeviceResponse         = "/v1/device/requests/{request_id}/response"
	PathDeviceEvents           = "/v1/device/events"
	PathDeviceAudit            = "/v1/device/audit"
	PathDeviceTransfer         = "/v1/device/transfer"
	PathDeviceRevoke           = "/v1/device/devices/{device_id}/revoke"
	PathDeviceCancel           = "/v1/device/devices/{device_id}/cancel"
	PathDeviceReactivate       = "/v1/device/devices/{device_id}/reactivate"
	PathDevicePushSubscription = "/v1/device/push-subscription"
	QueryWait                  = "wait"        // ?wait=S long-polls up to S seconds (at most MaxWaitSeconds)
	QueryExternalID            = "external_id" // GET /v1/users?external_id=X
	QueryState                 = "state"       // GET /v1/device/requests?state=pending
	MaxWaitSeconds             = 60
	PendingRequestsTarget      = PathDeviceRequests + "?" + QueryState + "=" + RequestPending
)

func esc(s string) string { return url.PathEscape(s) }

// UserPath returns /v1/users/{uid}.
func UserPath(uid string) string { return PathUsers + "/" + esc(uid) }

// UserEnrollmentPath returns /v1/users/{uid}/enrollment.
func UserEnrollmentPath(uid string) string { return UserPath(uid) + "/enrollment" }

// UserAuditPath returns /v1/users/{uid}/audit.
func UserAuditPath(uid string) string { return UserPath(uid) + "/audit" }

// UserRecordsPath returns /v1/users/{uid}/records.
func UserRecordsPath(uid string) string { return UserPath(uid) + "/records" }

// UserDevicesPath returns /v1/users/{uid}/devices.
func UserDevicesPath(uid string) string { return UserPath(uid) + "/devices" }

// RecordPath returns /v1/records/{rid}.
func RecordPath(rid string) string { return "/v1/records/" + esc(rid) }

// RecordContentPath returns /v1/records/{rid}/content.
func RecordContentPath(rid string) string { return RecordPath(rid) + "/content" }

// RecordAccessPath returns /v1/records/{rid}/access.
func RecordAccessPath(rid string) string { return RecordPath(rid) + "/access" }

// SessionPath returns /v1/sessions/{sid}.
func SessionPath(sid string) string { return "/v1/sessions/" + esc(sid) }

// SessionContentPath returns /v1/sessions/{sid}/content.
func SessionContentPath(sid string) string { return SessionPath(sid) + "/content" }

// DeviceRequestPath returns /v1/device/requests/{request_id}.
func DeviceRequestPath(id string) string { return PathDeviceRequests + "/" + esc(id) }

// DeviceResponsePath returns /v1/device/requests/{request_id}/response.
func DeviceResponsePath(id string) string { return DeviceRequestPath(id) + "/response" }

// DeviceRevokePath returns /v1/device/devices/{device_id}/revoke.
func DeviceRevokePath(id string) string { return "/v1/device/devices/" + esc(id) + "/revoke" }

// DeviceCancelPath returns /v1/device/devices/{device_id}/cancel.
func DeviceCancelPath(id string) string { return "/v1/device/devices/" + esc(id) + "/cancel" }

// DeviceReactivatePath returns /v1/device/devices/{device_id}/reactivate.
func DeviceReactivatePath(id string) string { return "/v1/device/devices/" + esc(id) + "/reactivate" }

// Headers.
const (
	// HeaderAuthorization carries a third party's "Bearer <api key>".
	HeaderAuthorization = "Authorization"
	// BearerPrefix precedes the API key in HeaderAuthorization.
	BearerPrefix = "Bearer "
	// Device request authentication (DESIGN.md "Device request authentication").
	HeaderDevice    = "Assent-Device"
	HeaderTimestamp = "Assent-Timestamp"
	HeaderNonce     = "Assent-Nonce"
	HeaderSignature = "Assent-Signature"
	// HeaderReprDigest carries the approved SHA-256 of a session's content,
	// "sha-256=:<base64>:" (RFC 9530).
	HeaderReprDigest = "Repr-Digest"
	// HeaderRequestID is on every response, and names the server's log lines.
	HeaderRequestID = "X-Request-Id"
	// HeaderRetryAfter is on every 429, in whole seconds.
	HeaderRetryAfter = "Retry-After"
	// HeaderWebhookSignature signs a webhook push (see SignWebhook).
	HeaderWebhookSignature = "Assent-Webhook-Signature"
)

// Scopes of a third party's API key.
const (
	ScopeUsersAdmin    = "users:admin"    // create users, issue enrollment codes, read audit chains
	ScopeRecordsWrite  = "records:write"  // create records and upload their content
	ScopeRecordsAccess = "records:access" // read record metadata and ask to open records
)

// Record states: awaiting_upload -> pending_approval -> sealed | rejected | expired.
const (
	RecordAwaitingUpload  = "awaiting_upload"
	RecordPendingApproval = "pending_approval"
	RecordSealed          = "sealed"
	RecordRejected        = "rejected"
	RecordExpired         = "expired"
)

// Session states: pending_approval -> open -> consumed | denied | expired.
const (
	SessionPendingApproval = "pending_approval"
	SessionOpen            = "open"
	SessionConsumed        = "consumed"
	SessionDenied          = "denied"
	SessionExpired         = "expired"
)

// Device request states: pending -> approved | denied | expired.
const (
	RequestPending  = "pending"
	RequestApproved = "approved"
	RequestDenied   = "denied"
	RequestExpired  = "expired"
)

// Device states (DESIGN.md "HTTP API").
const (
	DevicePending          = "pending"
	DeviceActive           = "active"
	DeviceRevoked          = "revoked"
	DeviceSuspended        = "suspended"
	DeviceAwaitingTransfer = "awaiting_transfer"
	DeviceRecoveryPending  = "recovery_pending"
	DeviceCancelled        = "cancelled"
)

// Device platforms (DESIGN.md "The approval app"): what kind of program
// holds a device, as the device said when it enrolled. A device enrolled
// without one (before platforms existed) has the empty platform, which
// lists and tools show as PlatformUnknown.
const (
	PlatformAgent = "agent" // `assent device`, or another program on the device library
	PlatformWeb   = "web"   // the approval app in a browser
	// PlatformUnknown is how tools show the empty platform; it is never
	// sent or stored.
	PlatformUnknown = "unknown"
)

// ValidPlatform reports whether p may be sent as an enrollment's platform:
// PlatformAgent, PlatformWeb, or empty (not said).
func ValidPlatform(p string) bool {
	return p == "" || p == PlatformAgent || p == PlatformWeb
}

// Kinds of device request and decisions of a device's answer.
const (
	KindCreate      = "create"
	KindAccess      = "access"
	KindAddDevice   = "add_device"
	DecisionApprove = "approve"
	DecisionDeny    = "deny"
)

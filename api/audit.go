package api

// Audit events a device reads in its user's chain (DESIGN.md, "Audit
// events" and "The device watches"; store/audit.go lists every event the
// server writes). The device reports enrollments, revocations, suspensions
// and answers it did not expect, and checks its own answers.
const (
	AuditDeviceEnrolled  = "device_enrolled"  // actor and subject: the device; details {device_key_id, via?, state?}
	AuditDeviceRevoked   = "device_revoked"   // actor: the revoking device; subject: the revoked one
	AuditDeviceSuspended = "device_suspended" // actor: the client; subject: the device
	AuditApproved        = "approved"         // actor: the device; subject: the request; details {device_id, statement, signature}
	AuditDenied          = "denied"           // as approved
)

package threshold

// Domain-separation labels, byte-exact from DESIGN.md. Each one makes the
// bytes built for one purpose useless for any other.
const (
	LabelRecord      = "assent/record/v1"        // prefix of a record's POPRF info
	LabelKEK         = "assent/kek/v1"           // HKDF salt of the KEK
	LabelWrap        = "assent/wrap/v1"          // prefix of the DEK wrap's associated data
	LabelApproval    = "assent/approval/v1"      // prefix of the approval statement
	LabelMatch       = "assent/match/v1"         // prefix of the hashed input of a request's match code
	LabelDeviceAuth  = "assent/device-auth/v1"   // first line of a device request signature
	LabelEnroll      = "assent/enroll/v1"        // prefix of the enrollment statement
	LabelEnrollCheck = "assent/enroll-check/v2"  // prefix of the enrollment check's POPRF info (v2 binds the signing key)
	LabelShareWrap   = "assent/server-share/v1"  // prefix of the server share wrap's associated data
	LabelAddDevice   = "assent/add-device/v1"    // prefix of the add_device statement
	LabelRevoke      = "assent/revoke-device/v1" // prefix of the revocation statement
	LabelPairing     = "assent-pair:v1:"         // prefix of the pairing string of a transfer
	// LabelReactivate prefixes the statement that reactivates a suspended
	// device. DESIGN.md says only that a device's signed statement
	// reactivates; this layout, like the revocation's, is our addition.
	LabelReactivate = "assent/reactivate-device/v1"
)

// KindAddDevice is the kind of a request to approve a device added by
// transfer (DESIGN.md, "The user's device set").
const KindAddDevice = "add_device"

// Values of Statement.Kind and Statement.Decision.
const (
	KindCreate      = "create"
	KindAccess      = "access"
	DecisionApprove = "approve"
	DecisionDeny    = "deny"
)

// KeySize is the size of a DEK, a KEK and the master key.
const KeySize = 32

// maxField is the longest string lp can encode, and the longest info string
// the oprf package accepts.
const maxField = 0xffff

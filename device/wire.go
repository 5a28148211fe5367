package device

import "github.com/assent-dev/assent/api"

// The device speaks the api package's wire types; these names keep the
// device's own API readable.
type (
	// Requester names the third party that asks, as the server describes it.
	Requester = api.Requester
	// RecordView describes a record: its title, content type, size in bytes
	// and the SHA-256 of its plaintext.
	RecordView = api.RequestRecord
	// Request is a device request as the server sends it
	// (GET /v1/device/requests/{id}); NewDevice is set on a request of kind
	// add_device. Nothing in it is trusted before the device's checks.
	Request = api.DeviceRequest
	// Response is a device's answer to a request
	// (POST /v1/device/requests/{id}/response). For a deny,
	// EvaluatedElements and Proof are empty and omitted; Reason says why
	// the device denied, when it was not the user's choice
	// (api.ReasonMatchFailed). TransferKeyHash and TransferBundle answer an
	// add_device request.
	Response = api.DeviceResponse
)

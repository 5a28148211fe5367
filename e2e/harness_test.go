// Package e2e runs Assent end to end, as DESIGN.md's flows describe it,
// with nothing faked: the real server (internal/node, as `assent serve`
// wires it) on a loopback listener over the embedded store, real devices
// (package device) enrolled over HTTP and answering over HTTP and
// Server-Sent Events, and third parties using the SDK (package client).
// Its tests are the acceptance tests of the service. It holds tests only:
// the harness is internal/nodetest, and nothing imports this package.
package e2e

import (
	"github.com/assent-dev/assent/internal/nodetest"
)

// The harness, under the names these tests use.
type (
	Node       = nodetest.Node
	ThirdParty = nodetest.ThirdParty
	Device     = nodetest.Device
	APIError   = nodetest.APIError
	User       = nodetest.User
	Pending    = nodetest.Pending
	Approval   = nodetest.Approval
	Record     = nodetest.Record
	Session    = nodetest.Session
	Download   = nodetest.Download
)

var (
	StartNode        = nodetest.StartNode
	NewThirdParty    = nodetest.NewThirdParty
	EnrollDevice     = nodetest.EnrollDevice
	EnrollDeviceWith = nodetest.EnrollDeviceWith
	ReadAPIError     = nodetest.ReadAPIError
)

// Package nodetest is test support: a real Assent node on loopback
// (internal/node, as `assent serve` wires it) over the embedded store of a
// data directory, third parties holding API keys (the SDK, package client,
// with shorthands), and real devices (package device) enrolled over HTTP
// with their agents running. Nothing is faked. The e2e tests, and the tests
// of client and device, run against it; no product package imports it.
package nodetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/client"
	"github.com/assent-dev/assent/device"
	"github.com/assent-dev/assent/internal/node"
	"github.com/assent-dev/assent/server"
)

// Node is one running server over the store its Config names
// (internal/node: the same wiring as `assent serve`), with the transport
// the third parties it registers use.
type Node struct {
	*node.Node
	// Transport, if set, carries the calls of the third parties that
	// NewThirdParty makes afterwards (a checking round tripper, say).
	Transport http.RoundTripper
}

// StartNode opens the store, blob store and master key that cfg names
// (made on first use with the embedded store), expires what an earlier run
// on the same data left pending (server.Start), and serves on cfg.Listen
// until Stop.
func StartNode(cfg server.Config, log *slog.Logger) (*Node, error) {
	ctx := context.Background()
	n, err := node.Open(ctx, cfg, node.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		return nil, errors.Join(err, n.Close())
	}
	return &Node{Node: n}, nil
}

// APIError is a refusal of the server: the HTTP status and the code and
// message of DESIGN.md's error body.
type APIError = api.Error

// ThirdParty is a client of the API holding an API key: a clinic, a bank,
// a web app. It is the SDK's client (package client) with the harness's
// shorthands.
type ThirdParty struct {
	ID   string // its client id, cli_…
	Name string
	*client.Client
}

// NewThirdParty registers a third party with scopes the way `assent admin
// client create` does (server.CreateClient on the node's store) and returns
// a client of the node holding its API key.
func NewThirdParty(ctx context.Context, n *Node, name string, scopes ...string) (*ThirdParty, error) {
	key, cl, err := server.CreateClient(ctx, n.Store, rand.Reader, time.Now(), name, scopes)
	if err != nil {
		return nil, err
	}
	var opts *client.Options
	if n.Transport != nil {
		opts = &client.Options{HTTPClient: &http.Client{Transport: n.Transport}}
	}
	c, err := client.New(n.URL, key, opts)
	if err != nil {
		return nil, err
	}
	return &ThirdParty{ID: cl.ID, Name: name, Client: c}, nil
}

// The answers of the API, as package api defines them.
type (
	User     = api.Enrollment
	Pending  = api.Pending
	Approval = api.Approval
	Record   = api.Record
	Session  = api.Session
	Download = client.Download
)

// ReadAPIError makes the *APIError of a refusal with status and body.
func ReadAPIError(status int, body []byte) *APIError {
	return api.DecodeError(status, nil, bytes.NewReader(body))
}

// CreateRecord creates a record awaiting its upload (POST
// /v1/users/{uid}/records) and returns its id.
func (tp *ThirdParty) CreateRecord(ctx context.Context, uid, title, contentType, purpose string) (string, error) {
	out, err := tp.Client.CreateRecord(ctx, uid, api.CreateRecordRequest{Title: title, ContentType: contentType, Purpose: purpose})
	if err != nil {
		return "", err
	}
	if out.State != api.RecordAwaitingUpload {
		return "", fmt.Errorf("nodetest: new record is %q", out.State)
	}
	return out.RecordID, nil
}

// Access asks to open a record (POST /v1/records/{rid}/access).
func (tp *ThirdParty) Access(ctx context.Context, rid, purpose string) (*Pending, error) {
	return tp.RequestAccess(ctx, rid, purpose)
}

// Device is a user's device: the device library's client, its enrolled
// identity and ledger, and, given a policy, its agent answering requests.
type Device struct {
	Client   *device.Client
	Identity *device.Identity
	Ledger   *device.Ledger
	Agent    *device.Agent // nil without a policy

	stop context.CancelFunc
	done chan struct{}
}

// EnrollDevice enrolls a device over HTTP with an enrollment code
// (device.Client.Enroll) and opens its ledger at ledgerPath. With a policy
// it starts the agent (device.Agent.Run: the event stream, with listing as
// the fallback) and returns once the event stream is connected; o.Notify,
// if set, is told everything as well.
func EnrollDevice(ctx context.Context, serverURL, code, name, ledgerPath string, policy device.Policy, o device.AgentOptions) (_ *Device, err error) {
	return EnrollDeviceWith(ctx, serverURL, code, name, ledgerPath, policy, o, device.ClientOptions{})
}

// EnrollDeviceWith is EnrollDevice with the device's client options (an
// HTTP client that checks every exchange, say).
func EnrollDeviceWith(ctx context.Context, serverURL, code, name, ledgerPath string, policy device.Policy, o device.AgentOptions, co device.ClientOptions) (_ *Device, err error) {
	d := &Device{}
	defer func() {
		if err != nil {
			d.Close()
		}
	}()
	anon, err := device.NewClient(serverURL, nil, co)
	if err != nil {
		return nil, err
	}
	if d.Identity, err = anon.Enroll(ctx, code, device.EnrollOptions{Name: name}); err != nil {
		return nil, err
	}
	if d.Client, err = device.NewClient(serverURL, d.Identity, co); err != nil {
		return nil, err
	}
	if d.Ledger, err = device.OpenLedger(ledgerPath); err != nil {
		return nil, err
	}
	if policy == nil {
		return d, nil
	}
	connected := make(chan struct{}, 1)
	notify := o.Notify
	o.Notify = func(n device.Notice) {
		if n.Kind == device.NoticeConnected {
			select {
			case connected <- struct{}{}:
			default:
			}
		}
		if notify != nil {
			notify(n)
		}
	}
	if d.Agent, err = device.NewAgent(d.Client, d.Ledger, policy, o); err != nil {
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	d.stop, d.done = stop, make(chan struct{})
	go func() {
		defer close(d.done)
		_ = d.Agent.Run(runCtx)
	}()
	select {
	case <-connected:
		return d, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("nodetest: the device's event stream did not connect: %w", ctx.Err())
	}
}

// Close stops the agent, closes the ledger and clears the identity.
func (d *Device) Close() error {
	if d.stop != nil {
		d.stop()
		<-d.done
	}
	var err error
	if d.Ledger != nil {
		err = d.Ledger.Close()
	}
	if d.Identity != nil {
		d.Identity.Destroy()
	}
	return err
}

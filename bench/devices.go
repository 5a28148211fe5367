package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/assent-dev/assent/device"
)

// simDevice is a simulated phone: the real device library (client, ledger,
// agent) with a policy that approves every request at once, so that the
// figures leave out human think time.
type simDevice struct {
	userID string
	agent  *device.Agent
	ledger *device.Ledger
	id     *device.Identity

	mu     sync.Mutex
	errors []error // what went wrong while running
	stop   context.CancelFunc
	done   chan struct{}
}

// approveAll is the policy of a simulated device.
func approveAll(context.Context, *device.Prompt) (device.Decision, error) { return device.Approve, nil }

// newUserDevice creates a user through the third party and enrolls a
// simulated device for it, with its ledger in dir.
func newUserDevice(ctx context.Context, api *apiClient, externalID, dir string) (*simDevice, error) {
	uid, code, err := api.createUser(ctx, externalID)
	if err != nil {
		return nil, fmt.Errorf("creating a user: %w", err)
	}
	opts := device.ClientOptions{Transport: device.HTTPTransport(api.hc)}
	c, err := device.NewClient(api.base, nil, opts)
	if err != nil {
		return nil, err
	}
	id, err := c.Enroll(ctx, code, device.EnrollOptions{Name: "bench phone"})
	if err != nil {
		return nil, fmt.Errorf("enrolling a device: %w", err)
	}
	if c, err = device.NewClient(api.base, id, opts); err != nil {
		id.Destroy()
		return nil, err
	}
	ledger, err := device.OpenLedger(filepath.Join(dir, "ledger-"+externalID))
	if err != nil {
		id.Destroy()
		return nil, err
	}
	d := &simDevice{userID: uid, ledger: ledger, id: id}
	d.agent, err = device.NewAgent(c, ledger, approveAll, device.AgentOptions{
		MinBackoff:   50 * time.Millisecond,
		MaxBackoff:   time.Second,
		PollInterval: 2 * time.Second,
		Notify:       d.notice,
	})
	if err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// notice keeps the errors the agent reports; refusals and lost streams
// would distort the figures, so the run reports them.
func (d *simDevice) notice(n device.Notice) {
	if n.Kind != device.NoticeError && n.Kind != device.NoticeRefused {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.errors) < 10 {
		d.errors = append(d.errors, fmt.Errorf("device of %s, %s %s: %w", d.userID, n.Kind, n.RequestID, n.Err))
	}
}

// run starts the agent: it listens to the event stream and answers.
func (d *simDevice) run(ctx context.Context) {
	ctx, d.stop = context.WithCancel(ctx)
	d.done = make(chan struct{})
	go func() {
		defer close(d.done)
		_ = d.agent.Run(ctx) // returns ctx's error
	}()
}

// handle answers one request directly, as the agent does for each event.
func (d *simDevice) handle(ctx context.Context, requestID string) error {
	res, err := d.agent.Handle(ctx, requestID)
	if err != nil {
		return err
	}
	if res.State != "approved" {
		return fmt.Errorf("request %s is %q after approval", requestID, res.State)
	}
	return nil
}

// close stops the agent and releases the device, returning what went wrong
// while it ran.
func (d *simDevice) close() error {
	if d.stop != nil {
		d.stop()
		<-d.done
	}
	err := d.ledger.Close()
	d.id.Destroy()
	d.mu.Lock()
	defer d.mu.Unlock()
	return errors.Join(append(d.errors, err)...)
}

// newUserDevices makes n users with a device each, named prefix-0 to
// prefix-(n-1), their ledgers in dir; with run, their agents start.
func (b *runner) newUserDevices(ctx context.Context, api *apiClient, prefix string, n int, dir string, run bool) ([]*simDevice, error) {
	devs := make([]*simDevice, 0, n)
	for i := range n {
		b.prog.tick("%s: enrolling devices %d/%d", prefix, i+1, n)
		d, err := newUserDevice(ctx, api, fmt.Sprintf("%s-%d", prefix, i), dir)
		if err != nil {
			return nil, errors.Join(err, closeAll(devs))
		}
		if run {
			d.run(ctx)
		}
		devs = append(devs, d)
	}
	return devs, nil
}

// closeAll closes every device.
func closeAll(devs []*simDevice) error {
	var errs []error
	for _, d := range devs {
		errs = append(errs, d.close())
	}
	return errors.Join(errs...)
}

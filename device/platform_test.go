package device_test

import (
	"errors"
	"testing"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/device"
)

// TestEnrollPlatform: the client enrolls as agent unless told web, for a
// plain and a transfer enrollment, and the server stores what it sent; a
// platform the API does not know is refused before anything is sent.
func TestEnrollPlatform(t *testing.T) {
	e := newServerEnv(t, nil)
	for _, p := range []string{"unknown", "Web", "ios", "agent "} {
		if _, err := device.NewClient(e.url(), nil, device.ClientOptions{Platform: p}); !errors.Is(err, device.ErrPlatform) {
			t.Errorf("NewClient with platform %q: %v, want ErrPlatform", p, err)
		}
	}

	agent := e.enroll() // device.ClientOptions{}: the default
	_, code := e.newUser()
	web, err := device.NewClient(e.url(), nil, device.ClientOptions{Platform: api.PlatformWeb})
	if err != nil {
		t.Fatal(err)
	}
	webID, err := web.Enroll(e.ctx, code, device.EnrollOptions{Name: "browser"})
	if err != nil {
		t.Fatal(err)
	}
	defer webID.Destroy()
	enr, err := e.admin.NewEnrollment(e.ctx, agent.UserID)
	if err != nil {
		t.Fatal(err)
	}
	joining, err := web.EnrollTransfer(e.ctx, enr.EnrollmentCode, "browser of the agent's user")
	if err != nil {
		t.Fatal(err)
	}
	defer joining.Destroy()

	for _, c := range []struct{ id, want string }{
		{agent.DeviceID, api.PlatformAgent}, {webID.DeviceID, api.PlatformWeb}, {joining.DeviceID, api.PlatformWeb},
	} {
		d, err := e.node.Store.GetDevice(e.ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Platform != c.want {
			t.Errorf("device %s stored with platform %q, want %q", c.id, d.Platform, c.want)
		}
	}
}

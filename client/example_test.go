package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/assent-dev/assent/api"
	"github.com/assent-dev/assent/client"
)

// The main flow of a third party: create a user, hand the enrollment code
// to the user's phone, seal a record, ask to open it, and download it once
// the phone approved. Here a real server and an approving device agent run
// on loopback.
func Example() {
	dir, _ := os.MkdirTemp("", "assent-example")
	defer os.RemoveAll(dir)
	w := startWorld(nil, dir)
	defer w.stop()
	baseURL, apiKey := w.node.URL, w.key

	ctx := context.Background()
	c, err := client.New(baseURL, apiKey, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	user, err := c.CreateUser(ctx, "patient-17", "Ada")
	if err != nil {
		fmt.Println(err)
		return
	}
	// The user's phone enrolls with user.EnrollmentCode.
	defer w.enroll(nil, dir, user.EnrollmentCode)()

	rec, err := c.CreateRecord(ctx, user.UserID, api.CreateRecordRequest{Title: "MRI", ContentType: "text/plain", Purpose: "storage"})
	if err != nil {
		fmt.Println(err)
		return
	}
	content := "the scan"
	up, err := c.Upload(ctx, rec.RecordID, strings.NewReader(content), int64(len(content)))
	if err != nil {
		fmt.Println(err)
		return
	}
	// Show the user up.MatchCode: a phone that requires number matching
	// asks for these two digits before it approves.
	fmt.Println("match code has", len(up.MatchCode), "digits")
	sealed, err := c.AwaitRecord(ctx, rec.RecordID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("record:", sealed.State)

	pending, err := c.RequestAccess(ctx, rec.RecordID, "second opinion")
	if err != nil {
		fmt.Println(err)
		return
	}
	session, err := c.AwaitSession(ctx, pending.SessionID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("session:", session.State)

	var out bytes.Buffer
	if _, err := c.Download(ctx, session.SessionID, &out); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("content:", out.String())
	// Output:
	// match code has 2 digits
	// record: sealed
	// session: open
	// content: the scan
}

// Refusals are *api.Error values, tested with errors.Is on the code.
func ExampleClient_Record_notFound() {
	dir, _ := os.MkdirTemp("", "assent-example")
	defer os.RemoveAll(dir)
	w := startWorld(nil, dir)
	defer w.stop()

	c, _ := client.New(w.node.URL, w.key, nil)
	_, err := c.Record(context.Background(), "0190b6a8-0000-7000-8000-000000000000", 0)
	e := api.AsError(err)
	fmt.Println(e.Status, e.Code, errors.Is(err, api.ErrNotFound))
	// Output: 404 not_found true
}

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/assent-dev/assent/internal/syncbuf"
)

// TestDemoApp runs `assent demo --app` with a real headless Chromium as the
// person at the browser: it reads the app URL and enrollment code the demo
// prints, enrolls on the page, and approves the seal and the access there;
// the demo's third party then downloads and checks the content.
func TestDemoApp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the WebAssembly and drives a browser")
	}
	exe, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is needed (.ci/run installs it)")
		}
		t.Skip("no chromium on $PATH")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var out, errOut syncbuf.Buffer
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, []string{"--app", "--app-listen", "127.0.0.1:0", "--size", "64KiB"}, &out, &errOut)
	}()
	re := regexp.MustCompile(`Open the approval app:\s+(http://\S+)\n\s+Enrollment code:\s+(\S+)`)
	var m []string
	for m == nil {
		select {
		case err := <-done:
			t.Fatalf("demo ended before printing the app: %v\n%s\n%s", err, out.String(), errOut.String())
		case <-time.After(100 * time.Millisecond):
			m = re.FindStringSubmatch(out.String())
		}
	}
	appURL, code := m[1], m[2]

	// The profile is removed by hand: Chromium may still write in it for a
	// moment after it was told to quit, which t.TempDir's check refuses.
	profile, err := os.MkdirTemp("", "assent-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	actx, acancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.Flag("headless", "new"), chromedp.UserDataDir(profile))...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	var id string
	codes := regexp.MustCompile(`match code (\d\d)`)
	typeCode := func(n int) chromedp.Action {
		return chromedp.ActionFunc(func(ctx context.Context) error {
			for {
				if m := codes.FindAllStringSubmatch(out.String(), -1); len(m) >= n {
					return chromedp.SendKeys(`#match-code`, m[n-1][1], chromedp.ByQuery).Do(ctx)
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}
	approveNext := func(n int) chromedp.Tasks {
		return chromedp.Tasks{
			chromedp.ActionFunc(func(ctx context.Context) error {
				// The next request: one not answered already.
				js := fmt.Sprintf(`(() => { const li = [...document.querySelectorAll("#request-list li[data-request-id]")].find(l => l.dataset.requestId !== %q); return li ? li.dataset.requestId : null; })()`, id)
				return chromedp.Poll(js, &id).Do(ctx)
			}),
			chromedp.ActionFunc(func(ctx context.Context) error {
				return chromedp.Evaluate(`location.hash = "#/request/`+id+`"`, nil).Do(ctx)
			}),
			chromedp.WaitVisible(`body[data-request="shown"]`, chromedp.ByQuery),
			typeCode(n),
			chromedp.Click(`#approve`, chromedp.ByQuery),
			chromedp.WaitVisible(`body[data-request="approved"]`, chromedp.ByQuery),
			chromedp.Evaluate(`location.hash = "#/requests"`, nil),
		}
	}
	if err := chromedp.Run(bctx); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(bctx, 90*time.Second)
	defer scancel()
	err = chromedp.Run(sctx,
		chromedp.Navigate(appURL),
		chromedp.WaitVisible(`body[data-state="enroll"]`, chromedp.ByQuery),
		chromedp.SendKeys(`#enroll-code`, code, chromedp.ByQuery),
		chromedp.SendKeys(`#enroll-pass`, "demo passphrase", chromedp.ByQuery),
		chromedp.SendKeys(`#enroll-pass2`, "demo passphrase", chromedp.ByQuery),
		chromedp.Click(`#enroll-submit`, chromedp.ByQuery),
		chromedp.WaitVisible(`body[data-state="ready"]`, chromedp.ByQuery),
		approveNext(1), // the seal
		approveNext(2), // the access
	)
	if err != nil {
		var page string
		dctx, dcancel := context.WithTimeout(bctx, 5*time.Second)
		_ = chromedp.Run(dctx, chromedp.Evaluate(`JSON.stringify(document.body.dataset)+" | "+document.getElementById("status").textContent+" | "+document.getElementById("request-result").textContent+" | "+document.getElementById("request-refused").textContent+" | "+document.getElementById("request-list").textContent`, &page))
		dcancel()
		t.Fatalf("driving the page: %v\npage: %s\ndemo output:\n%s", err, page, out.String())
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo: %v\n%s\n%s", err, out.String(), errOut.String())
		}
	case <-ctx.Done():
		t.Fatalf("demo did not finish:\n%s", out.String())
	}
	for _, want := range []string{"approval app built and served", "the browser enrolled its device", "sealed", "access session", "the content downloaded is the content uploaded"} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(out.String()) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

package server

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// serveNode runs a second node on e's store through Serve on a real
// loopback listener, with cfg adjusted by mutate (if not nil). It returns
// the node's address, what stops it, and where Serve's result arrives;
// the test's clean-up stops it and checks that result if the test did not.
func serveNode(t *testing.T, e *testEnv, mutate func(*Config)) (addr string, stop context.CancelFunc, served <-chan error) {
	t.Helper()
	_, addr, stop, served = serveNodeServer(t, e, mutate)
	return addr, stop, served
}

// serveNodeServer is serveNode, also returning the node's Server.
func serveNodeServer(t *testing.T, e *testEnv, mutate func(*Config)) (srv *Server, addr string, stop context.CancelFunc, served <-chan error) {
	t.Helper()
	cfg := e.cfg
	cfg.NodeID = "node-2"
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := New(cfg, Deps{Store: e.st, Blobs: e.blobs, MasterKey: e.mk, Clock: e.clock.Now, Logger: e.srv.log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	result := make(chan error, 1)
	go func() {
		result <- srv.Serve(ctx, ln)
		close(result) // a second receive, in the clean-up, gets nil
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-result; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return srv, ln.Addr().String(), cancel, result
}

// slowBody sends a request head announcing a body of 1000 bytes and only
// the first bytes of it, then waits at most wait for the server to answer
// and close. It fails the test unless the server gave up on the body with
// a 400 saying so.
func slowBody(t *testing.T, addr, head string, wait time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head+"Content-Length: 1000\r\n\r\n{\"enr"); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("%.40q: a slow body holds the connection past the read timeout", head)
		return
	}
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 400 ")) || !bytes.Contains(got, []byte("did not arrive in time")) {
		t.Errorf("%.40q: answer %q", head, got)
	}
}

// TestSlowBodyCut: a request body that does not arrive within ReadTimeout
// is cut off, on the routes that need no credential (enrollment) and
// before a device signature can be checked; requests without a body (long
// polls) and uploads, which renew their own deadline, are not cut.
func TestSlowBodyCut(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	const timeout = time.Second
	addr, _, _ := serveNode(t, e, func(c *Config) { c.ReadTimeout = timeout })

	slowBody(t, addr, "POST /v1/device/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n", 5*time.Second)
	slowBody(t, addr, "POST /v1/device/enroll/confirm HTTP/1.1\r\nHost: x\r\n", 5*time.Second)
	signed := "POST /v1/device/requests/req_aaaaaaaaaaaaaaaaaaaaaaaaaa/response HTTP/1.1\r\nHost: x\r\n" +
		HeaderDevice + ": " + d.id + "\r\n" +
		HeaderTimestamp + ": " + strconv.FormatInt(e.clock.Now().Unix(), 10) + "\r\n" +
		HeaderNonce + ": " + newNonce(t) + "\r\n" +
		HeaderSignature + ": " + "AAAA" + "\r\n"
	slowBody(t, addr, signed, 5*time.Second)

	// A long poll has no body: it outlives the read timeout.
	rid := e.createRecord(t, d.userID)
	poll, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/records/"+rid+"?wait=2", nil)
	poll.Header.Set("Authorization", "Bearer "+e.writer)
	res, err := http.DefaultClient.Do(poll)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("long poll across the read timeout: %v %v", res, err)
	}
	res.Body.Close()

	// An upload pausing longer than the read timeout (but keeping to the
	// minimum rate of its window) goes through.
	pr, pw := io.Pipe()
	go func() {
		pw.Write(bytes.Repeat([]byte("a"), 1000))
		time.Sleep(timeout + 500*time.Millisecond)
		pw.Write(bytes.Repeat([]byte("b"), 1000))
		pw.Close()
	}()
	up, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/v1/records/"+rid+"/content", pr)
	up.Header.Set("Authorization", "Bearer "+e.writer)
	res, err = http.DefaultClient.Do(up)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("slow upload: %d %s", res.StatusCode, body)
	}
}

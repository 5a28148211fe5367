package server

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// stallDownload starts the download of session sid on a raw connection
// with a small receive buffer, reads the response head, and then reads
// nothing more: a client that stopped reading.
func stallDownload(t *testing.T, e *testEnv, sid string) net.Conn {
	t.Helper()
	u, err := url.Parse(e.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, e.ts.URL+"/v1/sessions/"+sid+"/content", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.reader)
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReaderSize(conn, 1<<10), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("download: status %d", res.StatusCode)
	}
	return conn
}

// waitNoKeys waits up to limit for the node to hold no session key.
func waitNoKeys(t *testing.T, e *testEnv, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for e.srv.keys.len() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the session key is still held %s later: the stalled download keeps it", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStalledDownload: a client that stops reading a download cannot keep
// the session's data key in memory past the session's end. The download
// is cut when the session ends, and the key cleared.
func TestStalledDownload(t *testing.T) {
	for _, downloads := range []int{1, 2} { // consumed by the download, or still open
		e := newEnv(t, func(c *Config) { c.DownloadsPerSession = downloads })
		d := e.userWithDevice(t)
		// More than the socket buffers of both ends hold, so the server's
		// writes block.
		rid := e.sealed(t, d, randomContent(t, 16<<20))
		sid := e.openSession(t, d, rid)

		stallDownload(t, e, sid)
		time.Sleep(200 * time.Millisecond)
		if e.srv.keys.len() != 1 {
			t.Fatalf("downloads=%d: the key is gone while the download runs", downloads)
		}
		e.clock.Advance(e.cfg.SessionTTL)
		if err := e.srv.sweep(t.Context()); err != nil {
			t.Fatal(err)
		}
		waitNoKeys(t, e, 5*time.Second)
		if s := e.session(t, sid, e.reader, ""); s.State != "expired" && s.State != "consumed" {
			t.Errorf("downloads=%d: session is %s after its end", downloads, s.State)
		}
	}
}

// TestStalledDownloadAtSessionEnd: without any sweep, a stalled download
// cannot outlive the session: its writes are due by the session's end. (Its
// one download taken, the session's key goes with the download.)
func TestStalledDownloadAtSessionEnd(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	rid := e.sealed(t, d, randomContent(t, 16<<20))
	sid := e.openSession(t, d, rid)
	// The session ends in a second of real time.
	e.clock.Advance(e.cfg.SessionTTL - time.Second)
	stallDownload(t, e, sid)
	waitNoKeys(t, e, 5*time.Second)
}

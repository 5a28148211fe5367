package server

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assent-dev/assent/envelope"
)

// blobFile finds the file holding blob name under dir, whatever the blob
// store's layout.
func blobFile(t *testing.T, dir, name string) string {
	t.Helper()
	var found string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(d.Name(), name) {
			found = path
		}
		return err
	})
	if err != nil || found == "" {
		t.Fatalf("no file for blob %s under %s (%v)", name, dir, err)
	}
	return found
}

// TestPlaintextNeverOnDisk: after an upload and a seal, no file under the
// data directory (database, its journal, blobs) holds the plaintext.
func TestPlaintextNeverOnDisk(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	marker := []byte("PLAINTEXT-MARKER-7d1f0c")
	content := bytes.Repeat(marker, 8000)
	rid := e.createRecord(t, d.userID)
	e.upload(t, rid, content)
	check := func(when string) {
		err := filepath.WalkDir(e.dir, func(path string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if bytes.Contains(b, marker) {
				t.Errorf("%s: plaintext found in %s", when, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check("staged")
	d.answer(t, d.pending(t)[0], "approve").want(t, http.StatusOK)
	check("sealed")
}

// TestTamperedContent: a ciphertext chunk altered on disk is detected
// during the download; the client gets a truncated body (a transport
// error), never the bytes of the bad chunk, and the good chunks before it
// are all it sees.
func TestTamperedContent(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DownloadsPerSession = 2 })
	d := e.userWithDevice(t)
	content := randomContent(t, 4*envelope.ChunkSize)
	rid := e.sealed(t, d, content)
	sid := e.openSession(t, d, rid)

	path := blobFile(t, filepath.Join(e.dir, "blobs"), rid)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A byte of the third chunk's ciphertext.
	b[envelope.HeaderSize+2*(envelope.ChunkSize+16)+100] ^= 0x40
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/v1/sessions/"+sid+"/content", nil)
	req.Header.Set("Authorization", "Bearer "+e.reader)
	res, err := e.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	got, err := io.ReadAll(res.Body)
	if err == nil {
		t.Fatal("a tampered download ended without an error")
	}
	if len(got) > 2*envelope.ChunkSize || !bytes.Equal(got, content[:len(got)]) {
		t.Fatalf("client got %d bytes; at most the two good chunks, unchanged, may arrive", len(got))
	}
	if !strings.Contains(e.logs.String(), "failed authentication mid-stream") {
		t.Error("the failed chunk is not logged")
	}
}

// TestGracefulShutdown: Serve stops when its context ends, even with an
// event stream and a long poll open, and the port is released.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t, nil)
	d := e.userWithDevice(t)
	rid := e.createRecord(t, d.userID)
	e.upload(t, rid, []byte("x"))

	// A second node on the same store, run by Serve on a real listener.
	addr, cancel, served := serveNode(t, e, nil)
	base := "http://" + addr

	// Requests reach it.
	res, err := http.Get(base + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", res, err)
	}
	res.Body.Close()

	// An event stream and a long poll stay open.
	stream := d.signed(t, http.MethodGet, "/v1/device/events", nil, e.clock.Now(), newNonce(t))
	stream.URL.Host = addr
	sres, err := http.DefaultClient.Do(stream)
	if err != nil || sres.StatusCode != http.StatusOK {
		t.Fatalf("events: %v %v", sres, err)
	}
	defer sres.Body.Close()
	poll, _ := http.NewRequest(http.MethodGet, base+"/v1/records/"+rid+"?wait=60", nil)
	poll.Header.Set("Authorization", "Bearer "+e.writer)
	polled := make(chan error, 1)
	go func() {
		r, err := http.DefaultClient.Do(poll)
		if err == nil {
			r.Body.Close()
		}
		polled <- err
	}()
	time.Sleep(100 * time.Millisecond)

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(e.cfg.ShutdownTimeout + 5*time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if err := <-polled; err != nil {
		t.Errorf("the long poll was cut off instead of answered: %v", err)
	}
	if _, err := io.ReadAll(sres.Body); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Logf("stream ended with %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the server still answers after shutdown")
	}
}

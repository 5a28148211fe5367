package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuickstart runs docs/quickstart.sh, the README's walk-through, as a
// reader would: the assent binary built from this tree serving a fresh
// data directory, and the script doing the rest (API key, user, device
// enrollment and agent, seal, access, download, digest check) with curl
// and jq. So the README cannot drift from the product.
func TestQuickstart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	for _, tool := range []string{"bash", "curl", "jq", "sha256sum", "base64"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is needed (.ci/run installs it): %v", tool, err)
			}
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "assent")
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "assent-data")
	srv := exec.CommandContext(ctx, bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", data)
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var serverLog syncBuffer
	srv.Stderr = &serverLog
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = srv.Process.Signal(os.Interrupt)
		_ = srv.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("no start line: %v\n%s", err, serverLog.String())
	}
	url := strings.Fields(strings.TrimPrefix(line, "assent: serving on "))[0]

	script, err := filepath.Abs(filepath.Join("..", "..", "docs", "quickstart.sh"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ASSENT="+bin, "ASSENT_URL="+url, "ASSENT_DATA_DIR="+data, "WORK="+filepath.Join(dir, "work"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "work", "device.log"))
		t.Fatalf("quickstart.sh: %v\n%s\ndevice log:\n%s\nserver log:\n%s", err, out, log, serverLog.String())
	}
	if !strings.Contains(string(out), "as uploaded and approved") {
		t.Fatalf("quickstart.sh output:\n%s", out)
	}
	if fi, err := os.Stat(filepath.Join(dir, "work", "passphrase")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("passphrase file: %v %v", fi, err)
	}
}

package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/assent-dev/assent/envelope"
)

// agePath is where age's commands come from.
const agePath = "filippo.io/age/cmd/"

// runAge measures part 6: age encrypting a file to an X25519 recipient next
// to the envelope encrypting the same file, wall clock and CPU time. Both
// read the file from the page cache and write to /dev/null: on a virtual
// machine the page cache's cost of taking a fresh GiB of output varies from
// run to run by more than the encryption costs, and would decide the ratio.
// age is taken from PATH or installed from the Go module proxy; when
// neither works the rows say why, and the run goes on.
func (b *runner) runAge(ctx context.Context) error {
	size := b.cfg.AgeSize
	name := fmt.Sprintf("encrypt a %s file", sizeName(size))
	skip := func(why string) error {
		b.res.skip(PartAge, "age/envelope", "envelope "+name, UnitMBps, why)
		b.res.skip(PartAge, "age/envelope-cpu", "envelope "+name+", per CPU second", UnitMBps, why)
		b.res.skip(PartAge, "age/age", "age "+name, UnitMBps, why)
		return nil
	}
	b.prog.set("part 6/6 age: finding or installing age %s", b.cfg.AgeVersion)
	age, keygen, origin, err := b.findAge(ctx)
	if err != nil {
		return skip(err.Error())
	}
	dir := filepath.Join(b.work, "age")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	recipient, err := ageRecipient(ctx, keygen, filepath.Join(dir, "key.txt"))
	if err != nil {
		return skip("age-keygen failed: " + err.Error())
	}
	in := filepath.Join(dir, "plain")
	b.prog.set("part 6/6 age: writing a %s file", sizeName(size))
	if err := writeRandomFile(in, size); err != nil {
		return err
	}
	sink, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer sink.Close()

	rounds := 2
	if b.cfg.Quick {
		rounds = 1
	}
	var ageWall, ageCPU, envWall, envCPU time.Duration
	for i := range rounds {
		b.prog.set("part 6/6 age: age encrypting %s (round %d/%d)", sizeName(size), i+1, rounds)
		flushDirty()
		t0 := time.Now()
		cmd := exec.CommandContext(ctx, age, "-r", recipient, "-o", os.DevNull, in)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return skip(fmt.Sprintf("age failed: %v: %s", err, firstLine(msg)))
		}
		ageWall = keepBest(ageWall, time.Since(t0))
		ageCPU = keepBest(ageCPU, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())

		b.prog.set("part 6/6 age: envelope encrypting %s (round %d/%d)", sizeName(size), i+1, rounds)
		flushDirty()
		cpu0, err := processCPU()
		if err != nil {
			return err
		}
		t0 = time.Now()
		if err := sealFile(sink, in); err != nil {
			return err
		}
		envWall = keepBest(envWall, time.Since(t0))
		cpu1, err := processCPU()
		if err != nil {
			return err
		}
		envCPU = keepBest(envCPU, cpu1-cpu0)
	}
	mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }
	best := fmt.Sprintf("best of %d", rounds)
	b.res.add(Row{ID: "age/envelope", Part: PartAge, Name: "envelope " + name, Value: mbps(envWall), Unit: UnitMBps,
		Baseline: mbps(ageWall), BaselineName: "age " + name,
		Note: "wall clock, " + best + "; file in the page cache, output to /dev/null; the envelope also hashes the plaintext (SHA-256)"})
	b.res.add(Row{ID: "age/envelope-cpu", Part: PartAge, Name: "envelope " + name + ", per CPU second", Value: mbps(envCPU),
		Unit: UnitMBps, Baseline: mbps(ageCPU), BaselineName: "age, per CPU second", Note: "user + system CPU time, " + best})
	b.res.add(Row{ID: "age/age", Part: PartAge, Name: "age " + name, Value: mbps(ageWall), Unit: UnitMBps,
		Note: origin + ", wall clock, " + best})
	return nil
}

// keepBest returns the shorter of best and d, best being zero at first.
func keepBest(best, d time.Duration) time.Duration {
	if best == 0 || d < best {
		return d
	}
	return best
}

// findAge returns the age and age-keygen commands and where they came from:
// PATH, else an earlier install in the user's cache directory, else a new
// install there (or in the run's directory when there is no cache
// directory).
func (b *runner) findAge(ctx context.Context) (age, keygen, origin string, err error) {
	a, errA := exec.LookPath("age")
	k, errK := exec.LookPath("age-keygen")
	if errA == nil && errK == nil {
		return a, k, "age found on PATH", nil
	}
	v := b.cfg.AgeVersion
	bin := filepath.Join(b.work, "age-bin")
	if cache, err := os.UserCacheDir(); err == nil {
		bin = filepath.Join(cache, "assent-bench", "age-"+v)
	}
	a, k = filepath.Join(bin, "age"), filepath.Join(bin, "age-keygen")
	if isExecutable(a) && isExecutable(k) {
		return a, k, "filippo.io/age " + v + ", installed from the Go module proxy by an earlier run", nil
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return "", "", "", errors.New("no age on PATH and no go command to install it")
	}
	if err := os.MkdirAll(bin, 0o700); err != nil {
		return "", "", "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "install", agePath+"age@"+v, agePath+"age-keygen@"+v)
	cmd.Dir = b.work // outside any module: go.mod of this project is not touched
	cmd.Env = append(os.Environ(), "GOBIN="+bin, "GOFLAGS=", "GOWORK=off")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", "", "", fmt.Errorf("go install filippo.io/age@%s failed: %s", v, firstLine(msg))
	}
	return a, k, "filippo.io/age " + v + ", installed from the Go module proxy", nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o100 != 0
}

// ageRecipient makes an age X25519 identity in path and returns its
// recipient.
func ageRecipient(ctx context.Context, keygen, path string) (string, error) {
	if msg, err := exec.CommandContext(ctx, keygen, "-o", path).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%v: %s", err, firstLine(msg))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if r, ok := strings.CutPrefix(line, "# public key: "); ok {
			return strings.TrimSpace(r), nil
		}
	}
	return "", errors.New("no public key in the identity file")
}

// sealFile encrypts file in to dst with the envelope, as the server streams
// an upload: 1 MiB reads, chunked sealing, 1 MiB writes.
func sealFile(dst io.Writer, in string) error {
	src, err := os.Open(in)
	if err != nil {
		return err
	}
	defer src.Close()
	dek := make([]byte, 32)
	if _, err := rand.Read(dek); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(dst, 1<<20)
	w, err := envelope.NewWriter(bw, dek, rand.Reader)
	if err == nil {
		_, err = io.CopyBuffer(w, onlyReader{src}, make([]byte, 1<<20))
	}
	if err == nil {
		err = w.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	return err
}

// onlyReader hides a reader's WriteTo, so that io.CopyBuffer uses its
// buffer.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// writeRandomFile writes size pseudo-random bytes (ChaCha8, fast enough not
// to be measured by accident) to a new file.
func writeRandomFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, newContent(size, 1))
	return errors.Join(err, f.Close())
}

// content is a deterministic pseudo-random stream of a given size.
type content struct {
	rng  *mrand.ChaCha8
	left int64
}

// newContent returns size bytes of content drawn from seed.
func newContent(size int64, seed uint64) *content {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return &content{rng: mrand.NewChaCha8(s), left: size}
}

func (c *content) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), c.left)]
	n, _ := c.rng.Read(p)
	c.left -= int64(n)
	return n, nil
}

// firstLine is the first line of a command's output, for an error message.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

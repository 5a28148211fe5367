package storetest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// SmallFS returns an empty directory on a new tmpfs of size bytes, unmounted
// when the test ends, to make a disk fill up. It skips the test, saying why,
// where mounting is not permitted (not root, or no CAP_SYS_ADMIN).
func SmallFS(t testing.TB, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "smallfs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill up (%v): run as root to test a full disk", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return dir
}

// Fill writes a file in dir until the filesystem is full and returns its
// path; removing it frees the space again.
func Fill(t testing.TB, dir string) string {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !isNoSpace(err) {
				t.Fatalf("filling %s: %v", dir, err)
			}
			return name
		}
	}
}

func isNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }

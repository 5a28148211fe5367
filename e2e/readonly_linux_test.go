//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// fsImmutable is FS_IMMUTABLE_FL of <linux/fs.h> (chattr +i): no process,
// root included, may write, truncate, rename, link or delete the file, or
// change a directory's entries, even through a descriptor opened before.
const fsImmutable = 0x10

// setReadOnly makes path read-only for every process, root included, or
// writable again. As root it sets the immutable attribute, since root
// ignores permission bits; otherwise it changes the permission bits.
func setReadOnly(path string, readOnly bool) error {
	if os.Geteuid() != 0 {
		return chmodReadOnly(path, readOnly)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err == nil {
		if readOnly {
			flags |= fsImmutable
		} else {
			flags &^= fsImmutable
		}
		err = unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags))
	}
	if err != nil {
		if errors.Is(err, unix.ENOTTY) || errors.Is(err, unix.EOPNOTSUPP) {
			return fmt.Errorf("the file system of %s has no immutable attribute (chattr +i), which a test running as root needs to make it read-only: %w", path, err)
		}
		return fmt.Errorf("setting the immutable attribute of %s: %w", path, err)
	}
	return nil
}

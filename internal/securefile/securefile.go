// Package securefile writes small secret files (the server master key, the
// device keystore) so that no process ever reads a partly written one and an
// existing file is never overwritten.
package securefile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteNew writes data to a new file at path with mode 0600, atomically and
// durably: the parent directory is created 0700 if missing, data goes to a
// synced temporary file (O_EXCL, 0600) in the same directory, which is
// hard-linked into place, and the directory is synced. If path exists the
// error wraps fs.ErrExist and nothing is changed. The filesystem must support
// hard links.
func WriteNew(path string, data []byte) error {
	return place(path, data, os.Link)
}

// place writes data to a synced temporary file (O_EXCL, 0600) next to path,
// in a parent directory made 0700 if missing, puts it at path with put
// (link or rename), removes the temporary name and syncs the directory.
func place(path string, data []byte, put func(tmp, path string) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a rename it fails harmlessly
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := put(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// Replace writes data to path with mode 0600, atomically and durably,
// replacing any file there: the parent directory is created 0700 if
// missing, data goes to a synced temporary file (O_EXCL, 0600) in the same
// directory, which is renamed over path, and the directory is synced. A
// reader sees the old file or the new one, never a mix; on an error the old
// file is unchanged or already replaced whole.
func Replace(path string, data []byte) error {
	return place(path, data, os.Rename)
}

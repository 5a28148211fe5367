//go:build !linux

package e2e

// setReadOnly makes path read-only or writable again through its
// permission bits (a test running as root on this system cannot be made to
// fail this way).
func setReadOnly(path string, readOnly bool) error {
	return chmodReadOnly(path, readOnly)
}

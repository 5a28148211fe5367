//go:build !linux

package main

import "os/exec"

// setParentDeath does nothing here: only Linux kills a child with its
// parent; the tests' clean-ups stop the servers otherwise.
func setParentDeath(cmd *exec.Cmd) {}

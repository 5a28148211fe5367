package main

import (
	"os/exec"
	"syscall"
)

// setParentDeath has the kernel kill cmd's process if the test process dies
// first (a panic, a -timeout, a SIGKILL), so that no server outlives its
// test.
func setParentDeath(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

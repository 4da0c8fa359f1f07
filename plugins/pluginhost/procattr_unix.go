//go:build unix && !linux

package pluginhost

import "syscall"

// newSysProcAttr: without Pdeathsig, the SDK's parent watch (pipe and
// getppid) is what stops an orphaned plugin.
func newSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

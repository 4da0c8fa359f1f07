package pluginhost

import "syscall"

// newSysProcAttr asks the kernel to SIGKILL the plugin when the thread that
// started it exits: Start runs the fork on a goroutine locked to its OS
// thread for the plugin's whole life, so that is when the agent dies.
func newSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

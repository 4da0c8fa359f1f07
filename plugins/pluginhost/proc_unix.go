//go:build unix

package pluginhost

import (
	"os"
	"os/exec"
	"syscall"

	"github.com/draylink/dray/plugins/sdk"
)

// setupProc puts the plugin in its own process group (so Kill can reach any
// children it made, and a terminal's Ctrl-C reaches only the agent) and
// hands it the read end of the parent pipe as fd 3.
func setupProc(cmd *exec.Cmd, parentR *os.File) {
	cmd.SysProcAttr = newSysProcAttr()
	cmd.ExtraFiles = []*os.File{parentR}
	cmd.Env = append(cmd.Env, sdk.EnvParentFD+"=3") // ExtraFiles[0] is fd 3
}

// killGroup kills whatever is left of the plugin's process group.
func killGroup(pid int) {
	if pid > 0 {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
}

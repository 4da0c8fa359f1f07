//go:build !unix

package pluginhost

import (
	"os"
	"os/exec"
)

// setupProc: inherited pipes and process groups are unix-only here; on
// Windows an orphaned plugin is not stopped yet (a job object would do it).
func setupProc(*exec.Cmd, *os.File) {}

func killGroup(int) {}

package chaos

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Survivors lists the processes still running a binary from binDir (the
// run's own build directory, so nothing else on the machine matches).
// After the harness stopped everything, each one is an orphan: a plugin
// that outlived its agent, say.
func Survivors(binDir string) ([]string, error) {
	abs, err := filepath.Abs(binDir)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || filepath.Dir(exe) != abs {
			continue
		}
		if st := procState(pid); st == 'Z' || st == 0 {
			continue
		}
		out = append(out, fmt.Sprintf("pid %d %s", pid, filepath.Base(exe)))
	}
	return out, nil
}

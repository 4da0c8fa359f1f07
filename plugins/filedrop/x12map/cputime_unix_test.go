//go:build unix

package x12map

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) this process has used, so a
// benchmark on a shared machine can report what a file costs, not how long
// it waited for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

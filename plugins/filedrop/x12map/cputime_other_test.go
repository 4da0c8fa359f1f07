//go:build !unix

package x12map

import "time"

// cpuTime is not measured on this platform.
func cpuTime() time.Duration { return 0 }

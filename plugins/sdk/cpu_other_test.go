//go:build !unix

package sdk

import "time"

func processCPU() time.Duration { return 0 }

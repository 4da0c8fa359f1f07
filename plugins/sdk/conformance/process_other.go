//go:build !unix

package conformance

import (
	"testing"
	"time"
)

func processGroup(int) []int { return nil }

func waitGone(*testing.T, []int, time.Duration) {}

func (s *suite) testAgentGone(t *testing.T) {
	t.Skip("the parent pipe is unix-only")
}

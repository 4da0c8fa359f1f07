package dispatch

import (
	"sync/atomic"
	"time"
)

// bounds are the upper bounds of the delay histogram's buckets; the last
// bucket is unbounded.
var bounds = [...]time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute,
	5 * time.Minute, time.Hour,
}

// histogram counts delays in fixed buckets, lock-free.
type histogram struct {
	counts [len(bounds) + 1]atomic.Uint64
}

func (h *histogram) observe(d time.Duration) {
	i := 0
	for i < len(bounds) && d > bounds[i] {
		i++
	}
	h.counts[i].Add(1)
}

// quantile returns the upper bound of the bucket holding quantile q (0 with
// no observation; the last bound for the unbounded bucket).
func (h *histogram) quantile(q float64) time.Duration {
	var total uint64
	var c [len(bounds) + 1]uint64
	for i := range c {
		c[i] = h.counts[i].Load()
		total += c[i]
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.5)
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, n := range c {
		seen += n
		if seen >= rank {
			if i < len(bounds) {
				return bounds[i]
			}
			break
		}
	}
	return bounds[len(bounds)-1]
}

package bench

import "time"

// Quantile is the q-quantile (0 ≤ q ≤ 1) of sorted durations, 0 for none.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

// Millis is d in (fractional) milliseconds, the unit of the p50-ms and
// p99-ms metrics.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

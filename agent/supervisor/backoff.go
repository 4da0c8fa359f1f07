package supervisor

import (
	"math/rand/v2"
	"time"
)

// backoff is the restart policy: jittered exponential delays. Attempt
// n >= 1 waits a random duration in [d/2, d], where
// d = min(max, min·2^(n-1)); attempt 0 waits nothing. (The same shape as the
// uplink's reconnect backoff.)
type backoff struct{ min, max time.Duration }

func (b backoff) delay(attempt int) time.Duration {
	if attempt <= 0 {
		return 0
	}
	d := b.min
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	half := d / 2
	return half + rand.N(d-half+1) //nolint:gosec // jitter, not a secret
}

package uplink

import (
	"math/rand/v2"
	"time"
)

// backoff is the uplink's one retry policy: jittered exponential delays.
// Attempt n >= 1 waits a random duration in [d/2, d], where
// d = min(max, min·2^(n-1)); attempt 0 waits nothing. Reconnects, quota
// refusals (PUBACK 0x97) and every other refusal use it, so no two retry
// loops of the package differ in shape.
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

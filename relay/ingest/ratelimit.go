package ingest

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// siteLimits holds one token bucket of events per site, shared by the
// site's connections. Buckets live as long as the Server: a reconnect does
// not refill one, and the number of sites is bounded by the certificates
// the site CA issued.
type siteLimits struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter // guarded by mu
}

func newSiteLimits(limit rate.Limit, burst int) *siteLimits {
	return &siteLimits{limit: limit, burst: burst, buckets: make(map[string]*rate.Limiter)}
}

func (l *siteLimits) bucket(site string) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[site]
	if !ok {
		b = rate.NewLimiter(l.limit, l.burst)
		l.buckets[site] = b
	}
	return b
}

// allow takes n events from the bucket if it holds them. A batch larger
// than the burst needs (and empties) a full bucket, so it is slowed, not
// refused forever.
func allow(b *rate.Limiter, now time.Time, n uint64) bool {
	burst := uint64(b.Burst())
	if b.Limit() == rate.Inf {
		return true
	}
	if n > burst {
		n = burst
	}
	return b.AllowN(now, int(n))
}

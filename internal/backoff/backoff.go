// Package backoff is dray's one retry-delay rule: jittered exponential
// backoff that honours a server's Retry-After. Every retry loop asks it how
// long to wait: the agent's reconnects and refusals (uplink), connector
// restarts (supervisor), and the relay's deliveries (dispatch, redrive,
// replay).
package backoff

import (
	"math/rand/v2"
	"net/http"
	"time"
)

// Policy is an exponential backoff with full jitter on its upper half: the
// n-th retry waits a random time in [d/2, d] where d = Initial·2ⁿ⁻¹ capped
// at Max.
type Policy struct {
	// Initial is the nominal delay before the first retry (default 100ms).
	Initial time.Duration
	// Max caps the nominal delay (default 30s).
	Max time.Duration
	// MaxRetryAfter caps a server's Retry-After (default 5m): a sink cannot
	// park a dispatcher for a day.
	MaxRetryAfter time.Duration
}

func (p Policy) withDefaults() Policy {
	if p.Initial <= 0 {
		p.Initial = 100 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 30 * time.Second
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = 5 * time.Minute
	}
	return p
}

// Delay returns how long to wait before retry number attempt (1 for the
// first retry; 0 or less waits nothing). A positive retryAfter (the server's
// Retry-After) wins over the computed delay when it is longer, capped at
// MaxRetryAfter.
func (p Policy) Delay(attempt int, retryAfter time.Duration) time.Duration {
	if attempt <= 0 {
		return 0
	}
	p = p.withDefaults()
	d := p.Initial
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	// Jitter in [d/2, d]: retries of many workers spread out, and a delay
	// never collapses to zero.
	d = d/2 + rand.N(d/2+1) //nolint:gosec // jitter, not a secret
	if retryAfter > 0 {
		retryAfter = min(retryAfter, p.MaxRetryAfter)
		if retryAfter > d {
			d = retryAfter
		}
	}
	return d
}

// ParseRetryAfter reads an HTTP Retry-After value: delay-seconds or an
// HTTP date (relative to now). It returns 0 when the value is absent,
// malformed or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var secs int64
	digits := true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			digits = false
			break
		}
		if secs > 1<<31 {
			break
		}
		secs = secs*10 + int64(c-'0')
	}
	if digits {
		return time.Duration(secs) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0
	}
	if d := t.Sub(now); d > 0 {
		return d
	}
	return 0
}

// Sleep waits d or until done is closed; it reports whether the full
// delay passed.
func Sleep(done <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

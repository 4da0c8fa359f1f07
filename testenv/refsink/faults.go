package refsink

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Faults are the fault knobs of a server. They apply to business requests
// (the /erp and /tms routes) only; the token endpoint, /_ledger, /_faults
// and /healthz are never faulted. The zero value injects nothing.
//
// Each business request draws the same four numbers from a PCG generator
// seeded with Seed, in a fixed order, whether or not a knob uses them: the
// n-th request gets the same decisions in every run with the same seed and
// knobs (concurrent requests are numbered in the order they reach the
// injector).
type Faults struct {
	// Seed seeds the generator; PUT /_faults reseeds it.
	Seed uint64 `json:"seed,omitempty"`
	// Resources limits the faults to these resources (e.g.
	// "goods-movements"); empty means every resource.
	Resources []string `json:"resources,omitempty"`

	// Latency is added to every request before it is processed, plus a
	// uniform random amount in [0, Jitter].
	Latency Duration `json:"latency,omitzero"`
	Jitter  Duration `json:"jitter,omitzero"`

	// ErrorRate is the share of requests answered ErrorStatus (default 500)
	// without being processed.
	ErrorRate   float64 `json:"errorRate,omitempty"`
	ErrorStatus int     `json:"errorStatus,omitempty"`

	// RateLimitRate is the share of requests answered 429 with
	// Retry-After: RetryAfter (default 1s, in whole seconds, at least 1).
	RateLimitRate float64  `json:"rateLimitRate,omitempty"`
	RetryAfter    Duration `json:"retryAfter,omitzero"`
	// RateLimitRPS, when positive, is a token bucket (burst = max(1, RPS)):
	// requests beyond it get 429 with the time to the next token.
	RateLimitRPS float64 `json:"rateLimitRPS,omitempty"`

	// Down answers every request 503 until it is switched off.
	Down bool `json:"down,omitempty"`
	// Outages answer every request 503, with Retry-After the time left,
	// while the clock is inside one of them.
	Outages []Window `json:"outages,omitempty"`

	// DropAfterApplyRate is the share of requests that are processed and
	// committed to the ledger, after which the server closes the TCP
	// connection without answering. Only requests that applied something or
	// replayed an earlier result are dropped; the fault counts only those.
	DropAfterApplyRate float64 `json:"dropAfterApplyRate,omitempty"`
}

// Window is an outage: either absolute (From, Until; From may be omitted)
// or relative to when the knobs were installed (After, For).
type Window struct {
	From  time.Time `json:"from,omitzero"`
	Until time.Time `json:"until,omitzero"`
	After Duration  `json:"after,omitzero"`
	For   Duration  `json:"for,omitzero"`
}

func (w Window) bounds(installed time.Time) (from, until time.Time) {
	if !w.Until.IsZero() {
		return w.From, w.Until
	}
	from = installed.Add(w.After.D())
	return from, from.Add(w.For.D())
}

func (f *Faults) problems() []string {
	var out []string
	rate := func(name string, v float64) {
		if v < 0 || v > 1 || math.IsNaN(v) {
			out = append(out, fmt.Sprintf("%s: want a share in [0, 1], got %v", name, v))
		}
	}
	rate("errorRate", f.ErrorRate)
	rate("rateLimitRate", f.RateLimitRate)
	rate("dropAfterApplyRate", f.DropAfterApplyRate)
	if f.ErrorStatus != 0 && (f.ErrorStatus < 500 || f.ErrorStatus > 599) {
		out = append(out, fmt.Sprintf("errorStatus: want 500–599, got %d", f.ErrorStatus))
	}
	if f.Latency < 0 || f.Jitter < 0 || f.RetryAfter < 0 {
		out = append(out, "latency, jitter and retryAfter must not be negative")
	}
	if f.RateLimitRPS < 0 || math.IsNaN(f.RateLimitRPS) {
		out = append(out, "rateLimitRPS: must not be negative")
	}
	for i, w := range f.Outages {
		abs := !w.Until.IsZero() || !w.From.IsZero()
		rel := w.After != 0 || w.For != 0
		switch {
		case abs && rel:
			out = append(out, fmt.Sprintf("outages[%d]: either from/until or after/for", i))
		case abs && w.Until.IsZero():
			out = append(out, fmt.Sprintf("outages[%d]: until is required", i))
		case abs && !w.From.IsZero() && !w.Until.After(w.From):
			out = append(out, fmt.Sprintf("outages[%d]: until must be after from", i))
		case !abs && w.For <= 0:
			out = append(out, fmt.Sprintf("outages[%d]: for must be positive", i))
		case !abs && w.After < 0:
			out = append(out, fmt.Sprintf("outages[%d]: after must not be negative", i))
		}
	}
	for i, r := range f.Resources {
		if r != batchResource && resourceByName(r) == nil {
			out = append(out, fmt.Sprintf("resources[%d]: unknown resource %q", i, r))
		}
	}
	return out
}

// FaultStats counts the faults fired since the process started (they are
// not persisted; the ledger marks dropped responses durably).
type FaultStats struct {
	// Requests is the number of business requests the knobs were consulted
	// for (those outside Resources are not counted).
	Requests uint64 `json:"requests"`
	// Delayed requests got added latency; DelayedTotal is its sum.
	Delayed      uint64   `json:"delayed"`
	DelayedTotal Duration `json:"delayedTotal"`
	// Errors were answered with ErrorStatus.
	Errors uint64 `json:"errors"`
	// RateLimited were answered 429.
	RateLimited uint64 `json:"rateLimited"`
	// Outage were answered 503 by Down or an outage window.
	Outage uint64 `json:"outage"`
	// Dropped were applied (or replayed) and then had their connection
	// closed without a response.
	Dropped uint64 `json:"dropped"`
}

// decision is what the injector decided for one request.
type decision struct {
	outage      bool
	delay       time.Duration
	rateLimited bool
	retryAfter  time.Duration
	errStatus   int
	drop        bool
}

// injector holds the live knobs.
type injector struct {
	now func() time.Time

	mu        sync.Mutex
	cfg       Faults     // guarded by mu
	installed time.Time  // guarded by mu
	rng       *rand.Rand // guarded by mu
	tokens    float64    // guarded by mu; rate limiter bucket
	refilled  time.Time  // guarded by mu
	stats     FaultStats // guarded by mu
}

func newInjector(cfg Faults, now func() time.Time) *injector {
	in := &injector{now: now}
	in.set(cfg)
	return in
}

// set installs knobs; the caller has validated them.
func (in *injector) set(cfg Faults) {
	in.mu.Lock()
	defer in.mu.Unlock()
	cfg.Resources = slices.Clone(cfg.Resources)
	cfg.Outages = slices.Clone(cfg.Outages)
	in.cfg = cfg
	in.installed = in.now()
	in.rng = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)) //nolint:gosec // a reproducible fault schedule, not a secret
	in.tokens = max(1, cfg.RateLimitRPS)
	in.refilled = in.installed
}

func (in *injector) get() Faults {
	in.mu.Lock()
	defer in.mu.Unlock()
	f := in.cfg
	f.Resources = slices.Clone(f.Resources)
	f.Outages = slices.Clone(f.Outages)
	return f
}

func (in *injector) snapshot() FaultStats {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.stats
}

// fired counts a fault when it has actually been applied to a request.
func (in *injector) fired(count func(*FaultStats)) {
	in.mu.Lock()
	count(&in.stats)
	in.mu.Unlock()
}

// decide draws the faults for one request to resource. The caller counts
// each fault with fired once it has applied it.
func (in *injector) decide(resource string) decision {
	in.mu.Lock()
	defer in.mu.Unlock()
	c := &in.cfg
	if len(c.Resources) > 0 && !slices.Contains(c.Resources, resource) {
		return decision{}
	}
	in.stats.Requests++
	// Always the same draws, in the same order.
	u429, u5xx, uDrop, uJitter := in.rng.Float64(), in.rng.Float64(), in.rng.Float64(), in.rng.Float64()
	now := in.now()
	var d decision
	if left, down := in.outageLocked(now); down {
		d.outage, d.retryAfter = true, left
		return d
	}
	d.delay = c.Latency.D() + time.Duration(uJitter*float64(c.Jitter.D()))
	if c.RateLimitRPS > 0 {
		in.tokens = min(max(1, c.RateLimitRPS), in.tokens+now.Sub(in.refilled).Seconds()*c.RateLimitRPS)
		in.refilled = now
		if in.tokens < 1 {
			d.rateLimited = true
			d.retryAfter = time.Duration((1 - in.tokens) / c.RateLimitRPS * float64(time.Second))
		} else {
			in.tokens--
		}
	}
	if !d.rateLimited && u429 < c.RateLimitRate {
		d.rateLimited = true
		d.retryAfter = c.RetryAfter.D()
		if d.retryAfter == 0 {
			d.retryAfter = defaultRetryAfter
		}
	}
	if d.rateLimited {
		return d
	}
	if u5xx < c.ErrorRate {
		d.errStatus = c.ErrorStatus
		if d.errStatus == 0 {
			d.errStatus = 500
		}
		return d
	}
	d.drop = uDrop < c.DropAfterApplyRate
	return d
}

// outageLocked reports whether now is inside an outage, and how long is left
// (0 when unknown: the Down toggle).
func (in *injector) outageLocked(now time.Time) (time.Duration, bool) {
	if in.cfg.Down {
		return 0, true
	}
	for _, w := range in.cfg.Outages {
		from, until := w.bounds(in.installed)
		if !now.Before(from) && now.Before(until) {
			return until.Sub(now), true
		}
	}
	return 0, false
}

// retryAfterSeconds renders a Retry-After value in whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return fmt.Sprint(s)
}

package wmssim

import (
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// newRand returns the random stream named stream of a seed. Each part of
// the simulation draws from its own stream, so that, for instance, turning
// bad inputs on does not change the world's orders.
func newRand(seed uint64, stream string) *rand.Rand {
	h := fnv.New64a()
	_, _ = h.Write([]byte(stream))
	return rand.New(rand.NewPCG(seed, h.Sum64())) //nolint:gosec // a seeded simulation, not cryptography
}

// chance reports true with probability p.
func chance(r *rand.Rand, p float64) bool { return p > 0 && r.Float64() < p }

// between returns a duration uniformly in [lo, hi).
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// rangeInt returns an int uniformly in [lo, hi].
func rangeInt(r *rand.Rand, lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.IntN(hi-lo+1)
}

// expDuration draws an exponential inter-arrival time with the given mean.
func expDuration(r *rand.Rand, mean time.Duration) time.Duration {
	d := time.Duration(r.ExpFloat64() * float64(mean))
	if d < time.Second {
		d = time.Second
	}
	return d
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

package filedrop

import (
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// CrashPointEnv names the environment variable that arms crash points, for
// tests: a comma-separated list of name:probability or name@n (fire the
// n-th time the point is reached), e.g. "after_commit:0.2,after_journal@3".
// When an armed point fires, the connector logs "crash point fired" (with
// the point's name) and kills its own process with SIGKILL, as a power cut
// or the OOM killer would, at the narrowest windows of the lifecycle:
//
//	after_claim    files claimed into work/, nothing read yet
//	before_commit  a batch built, not sent
//	after_commit   the agent committed a batch; its files not yet finished
//	after_997      a 997 written, the file not yet journaled
//	after_journal  the files journaled, not yet moved
//	after_move     the first file of a batch moved, the others not yet
const CrashPointEnv = "DRAY_FILEDROP_CRASHPOINT"

// crashPoints are the armed points: a probability, or the n-th time.
type crashPoints struct {
	p   map[string]float64
	nth map[string]int
	hit map[string]int // times each point was reached; the connector's goroutine only
	log *slog.Logger
}

func crashPointsFromEnv(log *slog.Logger) crashPoints {
	cp := crashPoints{log: log}
	spec := os.Getenv(CrashPointEnv)
	if spec == "" {
		return cp
	}
	cp.p, cp.nth, cp.hit = map[string]float64{}, map[string]int{}, map[string]int{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if name, n, ok := strings.Cut(part, "@"); ok {
			cp.nth[name], _ = strconv.Atoi(n)
			continue
		}
		name, prob, _ := strings.Cut(part, ":")
		p, err := strconv.ParseFloat(prob, 64)
		if err != nil {
			p = 1
		}
		cp.p[name] = p
	}
	log.Warn("crash points armed (tests only)", "spec", spec)
	return cp
}

// at fires the named point with its probability.
func (cp crashPoints) at(name string) {
	if cp.p == nil {
		return
	}
	cp.hit[name]++
	n, byCount := cp.nth[name]
	p, byChance := cp.p[name]
	switch {
	case byCount && cp.hit[name] == n:
	case byChance && rand.Float64() < p: //nolint:gosec // a test die, not a secret
	default:
		return
	}
	cp.log.Error("crash point fired", "point", name)
	killSelf()
}

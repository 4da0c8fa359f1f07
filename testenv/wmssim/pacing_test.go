package wmssim

import (
	"testing"
	"time"

	"github.com/draylink/dray/internal/configfile"
)

// TestPacedRunKeepsTime runs paced: the simulated clock advances
// Acceleration times faster than the wall clock, and the run lasts its
// configured duration.
func TestPacedRunKeepsTime(t *testing.T) {
	if testing.Short() {
		t.Skip("a paced run of 3 s; skipped with -short")
	}
	cfg := testConfig(t.TempDir(), 0)
	cfg.MaxSpeed, cfg.WallStart = false, ""
	cfg.Rate, cfg.Acceleration = 300, 3600
	cfg.Stop = StopConfig{Duration: configfile.Duration(3 * time.Second)}
	sum, tr := run(t, cfg)
	if sum.Elapsed < 3*time.Second || sum.Elapsed > 5*time.Second {
		t.Errorf("a 3s run took %s", sum.Elapsed)
	}
	if sum.Sim < 2*time.Hour+50*time.Minute || sum.Sim > 3*time.Hour {
		t.Errorf("simulated %s; want 3h", sum.Sim)
	}
	if tr.End.Reason != "duration" || sum.Facts < 200 {
		t.Errorf("%s", sum)
	}
	t.Logf("%s", sum)
}

package stack

import (
	"fmt"
	"io"
	"time"

	"github.com/draylink/dray/agent"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/testenv/refsink"
	"github.com/draylink/dray/testenv/wmssim"
)

// Config describes a stack. Only Dir and Bins are required; the zero
// value of everything else is the demo's default (DemoSim for one site,
// MEM1).
type Config struct {
	// Dir holds everything the stack writes: configurations, the PKI,
	// data directories, logs (created; it should be empty).
	Dir string
	// Bins are the built programs (Build).
	Bins Binaries
	// Sites are the warehouses, each a simulator and an agent with the sql
	// and file-drop connectors reading it. Default: one, DefaultSite.
	Sites []SiteConfig
	// ERPFaults and TMSFaults are the reference sinks' fault knobs at
	// start (Sink.Client.SetFaults changes them while running).
	ERPFaults, TMSFaults refsink.Faults
	// Workers per sink (default 8); RetryMax caps the relay's retry
	// backoff (default 2s).
	Workers  int
	RetryMax time.Duration
	// StopTimeout bounds each process's clean stop after SIGTERM before
	// it is killed (default 30s).
	StopTimeout time.Duration
	// Log gets a line per step of Start and Stop (nil: none).
	Log io.Writer
}

// SiteConfig is one warehouse.
type SiteConfig struct {
	// ID is the site id (default MEM1, MEM2, … by position).
	ID string
	// Sim is the simulator's configuration. The stack sets Site.ID, the
	// store, the drops and the truth file; the rest is used as given (a
	// zero Sim is DemoSim(1)).
	Sim wmssim.Config
	// AgentDataDir puts the agent's data (spool, identity) elsewhere, e.g.
	// on a small file system (default <Dir>/<site>/agent).
	AgentDataDir string
	// Spool is the agent's spool configuration (caps, low-water mark).
	Spool agent.SpoolConfig
	// Proxy puts a UDP fault proxy (testenv/udpproxy) between the agent
	// and the relay's QUIC port (Site.Proxy).
	Proxy bool
}

// DemoSim is the simulator configuration of the demo: a busy day in a
// minute (acceleration 1440, about 150 facts per second once the floor is
// busy) with a small share of bad input of every category, in every source
// the demo reads.
func DemoSim(seed uint64) wmssim.Config {
	return wmssim.Config{
		Seed:         seed,
		Rate:         150,
		Acceleration: 1440,
		Bad: wmssim.BadConfig{
			CSVUnknownUnit:   0.001,
			CSVBadNumber:     0.001,
			CSVFieldCount:    0.001,
			CSVBadDate:       0.001,
			CSVInvalidUTF8:   0.05,
			CSVUnclosedQuote: 0.05,
			X12BadSSCC:       0.05,
			X12SECount:       0.05,
			X12Truncated:     0.02,
			DBNullKey:        0.01,
			DBOutOfRange:     0.01,
		},
	}
}

// Reading is what a stack's connectors read: the WMS tables, the CSV
// movement exports and the X12 files (see the package documentation).
var Reading = wmssim.Reading{Tables: true, CSV: true, X12: true}

func (c *Config) setDefaults() error {
	if c.Dir == "" {
		return fmt.Errorf("stack: Config.Dir is required")
	}
	if c.Bins.Agent == "" {
		return fmt.Errorf("stack: Config.Bins is required (Build)")
	}
	if len(c.Sites) == 0 {
		c.Sites = []SiteConfig{{}}
	}
	seen := map[string]bool{}
	for i := range c.Sites {
		s := &c.Sites[i]
		if s.ID == "" {
			s.ID = fmt.Sprintf("MEM%d", i+1)
		}
		if seen[s.ID] {
			return fmt.Errorf("stack: site %s twice", s.ID)
		}
		seen[s.ID] = true
		if s.Sim.Seed == 0 && s.Sim.Rate == 0 {
			seed := s.Sim.Seed
			s.Sim = DemoSim(uint64(i + 1))
			if seed != 0 {
				s.Sim.Seed = seed
			}
		}
	}
	if c.Workers == 0 {
		c.Workers = 8
	}
	if c.RetryMax == 0 {
		c.RetryMax = 2 * time.Second
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = 30 * time.Second
	}
	return nil
}

// WithDuration returns sim set to stop after d of wall time at its pace.
func WithDuration(sim wmssim.Config, d time.Duration) wmssim.Config {
	sim.Stop.Duration = configfile.Duration(d)
	return sim
}

package filedrop

import (
	"context"
	"sync"
	"time"

	"log/slog"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/sdk"
)

// Name and Version identify the connector.
const (
	Name    = "filedrop"
	Version = "1.0.0"
)

// Connector is the file-drop connector. Create it with New.
type Connector struct {
	log   *slog.Logger
	crash crashPoints

	mu  sync.Mutex
	cfg *compiled // guarded by mu: the configuration Read uses
}

var _ sdk.Connector = (*Connector)(nil)

// New returns an unconfigured connector, ready for sdk.Serve. Crash points
// for tests are read from DRAY_FILEDROP_CRASHPOINT (see crash.go).
func New() *Connector {
	log := sdk.Logger().With("connector", Name)
	return &Connector{log: log, crash: crashPointsFromEnv(log)}
}

// Info describes the connector. It lists every canonical type: X12 and
// JSON-lines inboxes can deliver any of them.
func (c *Connector) Info() sdk.Info {
	return sdk.Info{
		Name:        Name,
		Version:     Version,
		APIVersions: []int{sdk.APIVersion},
		EventTypes:  canonical.TypeNames(),
	}
}

// Configure decodes and checks the configuration, reporting every problem.
// It creates nothing: the drop's directories and the state directory are
// made when Read starts.
func (c *Connector) Configure(_ context.Context, raw []byte) error {
	cfg := Config{PollInterval: 2 * time.Second, BatchSize: 500, MaxFileBytes: 32 << 20, DedupWindow: 90 * 24 * time.Hour}
	problems := sdk.DecodeConfig(raw, &cfg)
	compiled, more := compile(cfg)
	problems = append(problems, more...)
	if len(problems) > 0 {
		return &sdk.ConfigError{Fields: problems}
	}
	c.mu.Lock()
	c.cfg = compiled
	c.mu.Unlock()
	return nil
}

// clock holds the time the X12 mapper stamps the 997 event with: the
// received file's modification time, so that a file read again gives the
// same event.
type clock struct {
	mu sync.Mutex
	t  time.Time // guarded by mu
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

package relaylog

import (
	"errors"
	"log/slog"
	"time"
)

// Defaults of Options.
const (
	// DefaultIDRetention is how long event ids are remembered: at least the
	// longest outage a spool absorbs, so a source rewound after an outage
	// still cannot duplicate.
	DefaultIDRetention = 30 * 24 * time.Hour
	// DefaultMarkRetention is how long consumers' marks are kept (a sink's
	// record of the idempotency keys it delivered): as long as event ids,
	// so that a fact reported again by another source after the longest
	// outage is still recognised.
	DefaultMarkRetention = DefaultIDRetention
	// DefaultRetention is how long events are kept once every consumer has
	// delivered them (room for replay).
	DefaultRetention = 7 * 24 * time.Hour
	// DefaultRetentionInterval is how often the background pass deletes
	// what retention allows and reclaims disk space.
	DefaultRetentionInterval = 5 * time.Minute
)

// Limits of one Append call. They keep a call inside one Badger
// transaction (whose size is bounded by the memtable size, see badger.go);
// the ingest endpoint sizes its group commits below them.
const (
	MaxAppendBatches = 1024
	MaxAppendEvents  = 8192
	MaxAppendBytes   = 64 << 20
)

// Options configure Open.
type Options struct {
	// Dir is the Badger directory. Required.
	Dir string
	// IDRetention is how long event ids are remembered for deduplication
	// (default DefaultIDRetention).
	IDRetention time.Duration
	// MarkRetention is how long a consumer's marks are kept after they are
	// written (default DefaultMarkRetention).
	MarkRetention time.Duration
	// Retention is how long events are kept once every consumer has passed
	// them (default DefaultRetention).
	Retention time.Duration
	// RetentionInterval is the period of the background retention pass
	// (default DefaultRetentionInterval; negative disables the background
	// pass, leaving Sweep to the caller).
	RetentionInterval time.Duration
	// Logger receives the log's own lines and Badger's warnings and errors
	// (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now). Retention ages and received
	// times come from it; tests move it forward instead of sleeping. Badger
	// expires the id index with the real clock.
	Now func() time.Time

	// noIDIndex turns the id index off: benchmarks measure its cost.
	noIDIndex bool
	// memTableSize overrides the Badger memtable size: tests make Badger
	// flush and compact after fewer events. Calls must then stay well
	// below the MaxAppend limits.
	memTableSize int64
}

func (o *Options) withDefaults() error {
	if o.Dir == "" {
		return errors.New("options: Dir is required")
	}
	if o.IDRetention == 0 {
		o.IDRetention = DefaultIDRetention
	}
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.MarkRetention == 0 {
		o.MarkRetention = DefaultMarkRetention
	}
	if o.MarkRetention < time.Second {
		return errors.New("options: MarkRetention must be at least 1s (Badger expires keys by the second)")
	}
	if o.IDRetention < time.Second {
		return errors.New("options: IDRetention must be at least 1s (Badger expires keys by the second)")
	}
	if o.Retention < 0 {
		return errors.New("options: Retention must not be negative")
	}
	if o.RetentionInterval == 0 {
		o.RetentionInterval = DefaultRetentionInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

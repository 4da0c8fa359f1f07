package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/draylink/dray/canonical"
)

// Defaults applied by Open to zero-valued Options fields.
const (
	DefaultMaxBytes        int64         = 10 << 30
	DefaultMaxAge          time.Duration = 7 * 24 * time.Hour
	DefaultMinFreeBytes    int64         = 256 << 20
	DefaultRotateAfter     uint64        = 10000
	DefaultRefreshInterval time.Duration = time.Second
	DefaultReclaimAfter    int64         = 64 << 20
)

// NoMaxAge disables the age cap (Options.MaxAge).
const NoMaxAge time.Duration = -1

// Lower bounds. A drained spool still holds up to ~28 MiB (the value-log
// file being written, the memtable log, Badger's discard file), so a
// smaller MaxBytes could leave intake paused for good; and the free-space
// margin must hold a commit group plus a memtable flush and a value-log GC
// rewrite.
const (
	MinMaxBytes     int64 = 64 << 20
	MinMinFreeBytes int64 = 32 << 20
)

// Options configure a spool. The zero value of every field but Dir means
// "use the default".
type Options struct {
	// Dir is the spool directory. It holds one Badger database and a marker
	// file (see doc.go); nothing else may write there.
	Dir string

	// MaxBytes caps the real size of the files in Dir (allocated blocks, so
	// sparse files count for what they use). Default 10 GiB, at least
	// MinMaxBytes.
	MaxBytes int64
	// MaxAge caps the age of the oldest unacknowledged event of each lane.
	// Zero means DefaultMaxAge (7 days); NoMaxAge (any negative value)
	// disables the cap.
	MaxAge time.Duration
	// Policies says per lane what happens at a cap; a lane not in the map
	// uses Backpressure.
	Policies map[canonical.Lane]Policy
	// MinFreeBytes is the free-disk low-water mark: intake pauses when the
	// file system holding Dir has less free space than this, and resumes at
	// 1.25 times it. Default 256 MiB, which covers Badger's own writes while
	// intake is paused: two memtables (16 MiB), one value-log file written
	// by garbage collection (16 MiB), compaction output and the commits in
	// flight (up to 8 MiB). At least MinMinFreeBytes.
	MinFreeBytes int64
	// RotateAfter is the number of pending events beyond which the live
	// stream of a lane is retired (made backlog) while the link is up.
	// Default 10000.
	RotateAfter uint64
	// Logger receives the spool's logs and Badger's warnings and errors.
	// Default: discard.
	Logger *slog.Logger

	// Now is the clock; tests set it to move time. Default time.Now.
	Now func() time.Time
	// RefreshInterval is how often the maintenance goroutine measures the
	// directory and the free space, enforces the caps and considers
	// reclaiming space. Default 1s.
	RefreshInterval time.Duration
	// ReclaimAfter is how many bytes must be acknowledged or dropped before
	// the maintenance goroutine compacts Badger and collects its value log.
	// A fully drained spool, or one paused on a size cap, is reclaimed
	// sooner. Default 64 MiB.
	ReclaimAfter int64
}

// withDefaults returns o with defaults applied, or an error naming every
// invalid field.
func (o Options) withDefaults() (Options, error) {
	var errs []error
	if o.Dir == "" {
		errs = append(errs, errors.New("dir: required"))
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	} else if o.MaxBytes < MinMaxBytes {
		errs = append(errs, fmt.Errorf("max_bytes: %d is under the minimum %d", o.MaxBytes, MinMaxBytes))
	}
	if o.MaxAge == 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MinFreeBytes == 0 {
		o.MinFreeBytes = DefaultMinFreeBytes
	} else if o.MinFreeBytes < MinMinFreeBytes {
		errs = append(errs, fmt.Errorf("min_free_bytes: %d is under the minimum %d", o.MinFreeBytes, MinMinFreeBytes))
	}
	if o.RotateAfter == 0 {
		o.RotateAfter = DefaultRotateAfter
	}
	for lane, p := range o.Policies {
		if !validLane(lane) {
			errs = append(errs, fmt.Errorf("policies: unknown lane %v", lane))
		}
		if p != Backpressure && p != DropOldest {
			errs = append(errs, fmt.Errorf("policies[%v]: unknown policy %d", lane, p))
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = DefaultRefreshInterval
	} else if o.RefreshInterval < 0 {
		errs = append(errs, fmt.Errorf("refresh_interval: %v is negative", o.RefreshInterval))
	}
	if o.ReclaimAfter == 0 {
		o.ReclaimAfter = DefaultReclaimAfter
	} else if o.ReclaimAfter < 0 {
		errs = append(errs, fmt.Errorf("reclaim_after: %d is negative", o.ReclaimAfter))
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("invalid options: %w", err)
	}
	return o, nil
}

// policy returns the policy of a lane.
func (o *Options) policy(lane canonical.Lane) Policy {
	return o.Policies[lane] // zero value: Backpressure
}

// ageCapped reports whether the age cap is on.
func (o *Options) ageCapped() bool { return o.MaxAge > 0 }

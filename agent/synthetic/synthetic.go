// Package synthetic is a test source for the agent: it emits canonical
// events at a set rate, deterministic by index, so the spine can be
// exercised and measured before (and independently of) connector plugins.
//
// Event i (from 1) has the record key "<i>" under the source URI
// urn:dray:<site>:synthetic, so its id is canonical.EventID(site, source,
// "<i>", "") whatever the run: a test can compute exactly which events must
// reach the relay. The cursor committed with each batch is the last index,
// so a restarted agent resumes after the last committed event.
package synthetic

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/draylink/dray/agent/spool"
	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/configfile"
)

// Config configures the source.
type Config struct {
	// Rate is events per second (required).
	Rate float64 `yaml:"rate"`
	// Count stops the source after this many events in total (0: never).
	Count uint64 `yaml:"count"`
	// Size is the approximate binary size of an event in bytes (default 1024).
	Size int `yaml:"size"`
	// BulkEvery makes every n-th event a bulk-lane count (0: none).
	BulkEvery uint64 `yaml:"bulk_every"`
	// MaxBatch caps the events committed in one transaction (default 512).
	MaxBatch int `yaml:"max_batch"`
}

// SetDefaults fills the defaults.
func (c *Config) SetDefaults() {
	if c.Size == 0 {
		c.Size = 1024
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 512
	}
}

// Validate reports every problem under path.
func (c *Config) Validate(path string, errs *configfile.Errors) {
	if c.Rate <= 0 {
		errs.Add(path+".rate", "must be a positive number of events per second")
	}
	if c.Size < 256 || c.Size > MaxSize {
		errs.Add(path+".size", "must be between 256 and %d bytes, got %d", MaxSize, c.Size)
	}
	if c.MaxBatch < 1 || c.MaxBatch > 10000 {
		errs.Add(path+".max_batch", "must be between 1 and 10000, got %d", c.MaxBatch)
	}
}

// Committer is the part of the spool a source uses.
type Committer interface {
	Commit(ctx context.Context, source string, cursor []byte, entries []spool.Entry) error
	Cursor(source string) ([]byte, error)
}

// Source emits synthetic events.
type Source struct {
	name   string
	cfg    Config
	origin canonical.Origin
	now    func() time.Time
}

// SourceURI is the source attribute of a site's synthetic events.
func SourceURI(site string) string { return "urn:dray:" + site + ":synthetic" }

// New makes a source named name for a site.
func New(name, site string, cfg Config) *Source {
	cfg.SetDefaults()
	return &Source{
		name:   name,
		cfg:    cfg,
		origin: canonical.Origin{SiteID: site, Source: SourceURI(site), SourceSystem: "synthetic"},
		now:    time.Now,
	}
}

// Name is the source's name (its cursor key in the spool).
func (s *Source) Name() string { return s.name }

// EventID is the id of event i of a site's synthetic source.
func EventID(site string, i uint64) string {
	return canonical.EventID(site, SourceURI(site), strconv.FormatUint(i, 10), "")
}

// Run emits events until ctx ends or Count is reached, committing each batch
// with its cursor. It returns nil when done or cancelled.
func (s *Source) Run(ctx context.Context, sp Committer) error {
	cur, err := sp.Cursor(s.name)
	if err != nil {
		return fmt.Errorf("synthetic %s: %w", s.name, err)
	}
	var next uint64 = 1
	if len(cur) == 8 {
		next = binary.BigEndian.Uint64(cur) + 1
	}
	start := s.now()
	emitted := float64(0)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	entries := make([]spool.Entry, 0, s.cfg.MaxBatch)
	for {
		if s.cfg.Count > 0 && next > s.cfg.Count {
			<-ctx.Done()
			return nil
		}
		due := s.cfg.Rate*s.now().Sub(start).Seconds() - emitted
		if due < 1 {
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
			continue
		}
		n := int(due)
		if n > s.cfg.MaxBatch {
			n = s.cfg.MaxBatch
		}
		if s.cfg.Count > 0 && next+uint64(n)-1 > s.cfg.Count {
			n = int(s.cfg.Count - next + 1)
		}
		entries = entries[:0]
		for k := 0; k < n; k++ {
			e, err := s.Event(next + uint64(k))
			if err != nil {
				return err
			}
			entries = append(entries, e)
		}
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], next+uint64(n)-1)
		if err := sp.Commit(ctx, s.name, c[:], entries); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("synthetic %s: commit: %w", s.name, err)
		}
		next += uint64(n)
		emitted += float64(n)
	}
}

// Event builds event i.
func (s *Source) Event(i uint64) (spool.Entry, error) {
	key := strconv.FormatUint(i, 10)
	now := s.now()
	sku := fmt.Sprintf("SKU-%04d", i%1000)
	var data canonical.Data
	lane := canonical.LaneOperational
	if s.cfg.BulkEvery > 0 && i%s.cfg.BulkEvery == 0 {
		lane = canonical.LaneBulk
		data = &canonical.InventoryCounted{SourceKey: key, Item: &canonical.ItemRef{Sku: sku},
			Location: &canonical.Location{SiteId: s.origin.SiteID, Code: "R-" + strconv.FormatUint(i%97, 10)},
			Counted:  canonical.Qty(strconv.FormatUint(i%50, 10), "EA")}
	} else {
		data = &canonical.InventoryMoved{Movement: &canonical.InventoryMovement{
			SourceKey: key, MovementType: canonical.MovementType_MOVEMENT_TYPE_TRANSFER,
			Item:     &canonical.ItemRef{Sku: sku},
			From:     &canonical.Location{SiteId: s.origin.SiteID, Code: "A-" + strconv.FormatUint(i%89, 10)},
			To:       &canonical.Location{SiteId: s.origin.SiteID, Code: "B-" + strconv.FormatUint(i%83, 10)},
			Quantity: canonical.Qty("1", "EA"),
			Note:     padding(s.cfg.Size),
		}}
	}
	ev, err := canonical.NewEvent(s.origin, canonical.Record{Key: key}, now, data, canonical.WithReceivedTime(now))
	if err != nil {
		return spool.Entry{}, fmt.Errorf("synthetic event %d: %w", i, err)
	}
	b, err := canonical.MarshalBinary(ev)
	if err != nil {
		return spool.Entry{}, err
	}
	if lane != ev.Lane() {
		return spool.Entry{}, errors.New("synthetic: lane mismatch")
	}
	return spool.Entry{Lane: lane, Event: b}, nil
}

// MaxSize is the largest event size the source makes (the note field is
// capped at 1000 bytes by the model).
const MaxSize = 1330

// padding makes a note that brings an event to about size bytes (the
// envelope and movement take about 330).
func padding(size int) string {
	n := size - 330
	if n <= 0 {
		return ""
	}
	if n > 1000 {
		n = 1000
	}
	return strings.Repeat("x", n)
}

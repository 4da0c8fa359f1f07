package wmssim

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// Summary is what a run generated.
type Summary struct {
	Reason  string           // facts, duration, signal or idle
	Facts   int64            // facts in the ground truth
	Bad     int64            // bad inputs
	Files   int64            // files written (bad ones included)
	Rows    int64            // SQL statements committed
	Late    int64            // transactions that committed late
	Kinds   map[string]int64 // facts per kind, and "bad:<category>"
	Elapsed time.Duration    // wall time
	Sim     time.Duration    // simulated time
}

// Rate is facts per wall-clock second.
func (m Summary) Rate() float64 {
	if m.Elapsed <= 0 {
		return 0
	}
	return float64(m.Facts) / m.Elapsed.Seconds()
}

// String is the one-line summary the binary prints.
func (m Summary) String() string {
	var parts []string
	for _, k := range sortedKeys(m.Kinds) {
		if !strings.HasPrefix(k, "bad:") {
			parts = append(parts, fmt.Sprintf("%s %d", k, m.Kinds[k]))
		}
	}
	return fmt.Sprintf("%d facts (%s), %d bad inputs, %d files, %d statements (%d transactions late) in %s (%.0f facts/s; simulated %s); stopped by %s",
		m.Facts, strings.Join(parts, ", "), m.Bad, m.Files, m.Rows, m.Late, m.Elapsed.Round(time.Millisecond), m.Rate(),
		m.Sim.Round(time.Second), m.Reason)
}

// Run simulates until the configured stop or until ctx is cancelled
// (SIGTERM), then commits what is pending, writes the ground truth's end
// line and returns. It runs everything on the calling goroutine and
// starts none of its own.
func (s *Sim) Run(ctx context.Context) (Summary, error) {
	began := time.Now()
	if s.truth != nil {
		return Summary{}, errors.New("wmssim: Run called twice")
	}
	if s.wall0.IsZero() {
		s.wall0 = began.UTC().Truncate(time.Second)
	}
	for _, d := range []string{s.cfg.Drops.CSV, s.cfg.Drops.dir945(), s.cfg.Drops.dir214(), s.cfg.Drops.dir846(), s.cfg.Drops.AckDir()} {
		if d != "" {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return Summary{}, fmt.Errorf("drop directory: %w", err)
			}
		}
	}
	tw, err := createTruth(s.cfg.Truth)
	if err != nil {
		return Summary{}, err
	}
	s.truth = tw
	// Setting the store up is not cut short by a stop (only bounded), so
	// a stop at any moment ends the run with the ground truth's end line.
	setup, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	st, err := openStore(setup, s.cfg.Store)
	cancel()
	if err != nil {
		_ = tw.close()
		return Summary{}, err
	}
	s.st = st
	err = s.run(ctx, began)
	if st != nil {
		if cerr := st.close(); err == nil && cerr != nil {
			err = fmt.Errorf("close store: %w", cerr)
		}
	}
	if cerr := tw.close(); err == nil {
		err = cerr
	}
	return s.summary(began), err
}

func (s *Sim) summary(began time.Time) Summary {
	kinds := make(map[string]int64, len(s.kinds))
	for k, v := range s.kinds {
		kinds[k] = v
	}
	return Summary{Reason: s.stopReason, Facts: s.facts, Bad: s.bad, Files: s.files, Rows: s.rows, Late: s.late, Kinds: kinds,
		Elapsed: time.Since(began), Sim: s.now.Sub(s.start)}
}

func (s *Sim) run(ctx context.Context, began time.Time) error {
	store := ""
	if s.st != nil {
		store = s.st.dialect()
	}
	if err := s.truth.write(&Record{Rec: "header", Header: &Header{Format: TruthFormat, Seed: s.cfg.Seed, Site: s.cfg.Site.ID,
		TimeZone: s.cfg.Site.TimeZone, Start: s.start.UTC().Format(time.RFC3339), WallStart: s.wall0.Format(time.RFC3339),
		Acceleration: s.cfg.Acceleration, Store: store, Drops: s.cfg.Drops, Sources: s.cfg.Identity, Routes: s.cfg.Routes,
		Partners: s.w.Partners()}}); err != nil {
		return err
	}
	s.initDemand()
	s.masterData()
	s.openingStock()
	s.snapshot()
	s.after(expDuration(s.rOrder, time.Duration(float64(time.Second)/s.lambda)), s.orderArrival)
	s.after(s.cfg.Intervals.CSV.D(), s.exportCSV)
	var tick945, tick214 func()
	tick945 = func() { s.flush945(); s.after(s.cfg.Intervals.X12945.D(), tick945) }
	tick214 = func() { s.flush214(); s.after(s.cfg.Intervals.X12214.D(), tick214) }
	s.after(s.cfg.Intervals.X12945.D(), tick945)
	s.after(s.cfg.Intervals.X12214.D(), tick214)

	// A flush is the current operation: a stop (ctx) waits for it to
	// commit, or the ground truth would log facts whose transaction was
	// rolled back by the cancellation.
	work := context.WithoutCancel(ctx)
	lastFlush := time.Now()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
loop:
	for {
		switch {
		case s.cfg.Stop.Facts > 0 && s.facts >= s.cfg.Stop.Facts:
			s.stopReason = "facts"
			break loop
		case len(s.q) == 0:
			s.stopReason = "idle"
			break loop
		case !s.end.IsZero() && s.q[0].at.After(s.end):
			s.stopReason = "duration"
			break loop
		}
		if ctx.Err() != nil {
			s.stopReason = "signal"
			break
		}
		if !s.cfg.MaxSpeed {
			due := began.Add(time.Duration(float64(s.q[0].at.Sub(s.start)) / s.cfg.Acceleration))
			if wait := time.Until(due); wait > time.Millisecond {
				if err := s.flush(work); err != nil {
					return err
				}
				lastFlush = time.Now()
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				select {
				case <-ctx.Done():
					s.stopReason = "signal"
					break loop
				case <-timer.C:
				}
			}
		}
		a := heap.Pop(&s.q).(*action)
		s.now = a.at
		a.fn()
		if len(s.pending) >= 256 || time.Since(lastFlush) > 50*time.Millisecond {
			if err := s.flush(work); err != nil {
				return err
			}
			lastFlush = time.Now()
		}
	}
	return s.finish(work)
}

// finish commits the late transactions still open, sends the reports and
// exports still pending, flushes and writes the end line.
func (s *Sim) finish(ctx context.Context) error {
	var lates []*action
	for _, a := range s.q {
		if a.commit {
			lates = append(lates, a)
		}
	}
	sort.Slice(lates, func(i, j int) bool { return s.q.lessActions(lates[i], lates[j]) })
	for _, a := range lates {
		a.fn()
	}
	for _, ms := range s.out214 {
		for _, m := range ms {
			m.reportAt = s.now
		}
	}
	s.flush945()
	s.flush214()
	s.writeCSVExport()
	if err := s.flush(ctx); err != nil {
		return err
	}
	kinds := make(map[string]int64, len(s.kinds))
	for k, v := range s.kinds {
		kinds[k] = v
	}
	return s.truth.write(&Record{Rec: "end", End: &End{Reason: s.stopReason, Facts: s.facts, Bad: s.bad, Files: s.files,
		Rows: s.rows, LateCommits: s.late, Kinds: kinds, Sim: s.now.UTC().Format(time.RFC3339)}})
}

// masterData writes the site, owners, items, locations, carriers and
// delivery points (not events).
func (s *Sim) masterData() {
	t := s.begin()
	site := s.w.Site
	t.insert("sites", []string{"site_code", "name", "gln", "time_zone", "edi_id", "address", "city", "region", "postal_code", "country"},
		site.ID, site.Name, site.GLN, site.TimeZone, site.EDIID, site.Address, site.City, site.Region, site.Postal, site.Country)
	for _, o := range s.w.Owners {
		t.insert("owners", []string{"owner_id", "name", "edi_id", "gln", "gs1_prefix"}, o.ID, o.Name, o.EDIID, o.GLN, o.Prefix)
	}
	for _, c := range s.w.Carriers {
		t.insert("carriers", []string{"scac", "name", "mode"}, c.SCAC, c.Name, c.Mode)
	}
	for _, l := range s.w.Locations {
		t.insert("locations", []string{"location_code", "location_type", "area"}, l.Code, l.Type, l.Zone)
	}
	for _, o := range s.w.Owners {
		for _, p := range o.ShipTos {
			t.insert("ship_tos", []string{"ship_to_id", "owner_id", "name", "gln", "address", "city", "region", "postal_code", "country", "time_zone"},
				p.ID, o.ID, p.Name, p.GLN, p.Street, p.City, p.Region, p.Postal, p.Country, p.Zone)
		}
		for _, it := range o.Items {
			handling := [...]string{"case", "each", "bulk"}[it.Kind]
			lot, exp := int64(0), int64(0)
			if it.Lot {
				lot = 1
			}
			if it.Expiry {
				exp = 1
			}
			t.insert("items", []string{"owner_id", "sku", "description", "base_uom", "handling", "lot_controlled", "expiry_controlled",
				"weight_kg", "pick_face"}, o.ID, it.SKU, it.Description, it.BaseUOM, handling, lot, exp,
				fmt.Sprintf("%.3f", it.WeightKG), it.PickFace.Code)
			for _, p := range it.Packs {
				t.insert("item_packs", []string{"owner_id", "sku", "uom", "gtin", "qty_in_base"}, o.ID, it.SKU, p.UOM, p.GTIN,
					fmtQty(p.QtyInBase, it.BaseUOM))
			}
		}
	}
	t.commit()
}

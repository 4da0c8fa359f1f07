package sql

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/sdk"
)

// Name and Version identify the connector.
const (
	Name    = "sql"
	Version = "1.0.0"
)

// Connector reads a WMS database. Create it with New.
type Connector struct {
	p   *plan
	log *slog.Logger
}

var _ sdk.Connector = (*Connector)(nil)

// New returns an unconfigured connector, ready for sdk.Serve.
func New() *Connector { return &Connector{log: sdk.Logger().With("connector", Name)} }

// Info describes the connector. The event types a site emits are a matter
// of its configuration, so every canonical type is listed.
func (c *Connector) Info() sdk.Info {
	return sdk.Info{
		Name:        Name,
		Version:     Version,
		APIVersions: []int{sdk.APIVersion},
		EventTypes:  canonical.TypeNames(),
	}
}

// Configure checks the configuration and compiles the mappings, reporting
// every problem. It does not connect: the database may be down at start.
func (c *Connector) Configure(ctx context.Context, raw []byte) error {
	p, err := configure(ctx, raw)
	if err != nil {
		return err
	}
	c.p = p
	return nil
}

// Read polls the configured tables from cursor until ctx ends. Database
// errors are retried with backoff (reconnecting); an error from Emit ends
// the read.
func (c *Connector) Read(ctx context.Context, cursor []byte, out sdk.Emitter) error {
	if c.p == nil {
		return errors.New("read: not configured")
	}
	doc, err := decodeCursor(cursor)
	if err != nil {
		return err
	}
	r := &reader{p: c.p, log: c.log, out: out, backoff: c.p.cfg.BackoffMin}
	for _, t := range c.p.tables {
		st := doc.Tables[t.name]
		if st == nil {
			st = &tableState{}
		}
		r.tables = append(r.tables, &tableRuntime{t: t, st: st, seen: decodeSeen(st.Seen)})
	}
	defer r.close()
	return r.run(ctx)
}

// reader is one Read: the connection, and each table's state as emitted.
type reader struct {
	p       *plan
	log     *slog.Logger
	out     sdk.Emitter
	db      dbConn
	tables  []*tableRuntime
	backoff time.Duration
}

type tableRuntime struct {
	t          *tablePlan
	st         *tableState         // committed with the last batch (Seen aside)
	seen       map[uint64]struct{} // the overlap digests; may be pruned ahead of a commit
	lastRescan time.Time
}

// emitError marks an Emit failure: Read must return.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }
func (e *emitError) Unwrap() error { return e.err }

func (r *reader) run(ctx context.Context) error {
	for {
		more := false
		for _, tr := range r.tables {
			m, err := r.poll(ctx, tr)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				var ee *emitError
				if errors.As(err, &ee) {
					return ee.err
				}
				r.failed(ctx, tr, err)
				more = true // retry at once after the backoff
				break
			}
			more = more || m
		}
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.p.cfg.PollInterval):
		}
	}
}

// failed logs a database error, drops the connection and waits.
func (r *reader) failed(ctx context.Context, tr *tableRuntime, err error) {
	wait := r.backoff + time.Duration(rand.Int64N(int64(r.backoff)/5+1)) //nolint:gosec // jitter, not a secret
	r.log.Warn("database error; reconnecting after a pause", "table", tr.t.name, "error", err, "wait", wait)
	r.close()
	r.backoff = min(2*r.backoff, r.p.cfg.BackoffMax)
	select {
	case <-ctx.Done():
	case <-time.After(wait):
	}
}

func (r *reader) close() {
	if r.db != nil {
		r.db.close()
		r.db = nil
	}
}

// query runs one statement (opening the connection on first use) and
// returns its rows, normalized.
func (r *reader) query(ctx context.Context, t *tablePlan, sqlText string, args []any) ([]*row, error) {
	if r.db == nil {
		db, err := openConn(ctx, r.p)
		if err != nil {
			return nil, err
		}
		r.db = db
	}
	ctx, cancel := context.WithTimeout(ctx, r.p.cfg.StatementTimeout+5*time.Second)
	defer cancel()
	rows, err := r.db.query(ctx, sqlText, args)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", t.name, err)
	}
	r.backoff = r.p.cfg.BackoffMin
	return rows, nil
}

// emit sends a batch with the cursor in which tr's state is next (and its
// overlap digests are tr.seen plus added). On success the state is tr's.
func (r *reader) emit(ctx context.Context, tr *tableRuntime, cs []converted, next *tableState, added []uint64) error {
	// Every event comes from canonical.NewEvent; the connector does nothing
	// to the source after a commit, so the next page is read while the
	// agent stores this one (a failed commit ends the Read, and the next
	// starts from the committed cursor).
	b := sdk.Batch{Validated: true, Pipelined: true}
	for _, c := range cs {
		if c.ev != nil {
			b.Events = append(b.Events, c.ev)
		} else {
			b.Rejects = append(b.Rejects, *c.rej)
		}
	}
	if tr.t.mode == ModeWatermark {
		next.Seen = encodeSeen(tr.seen, added)
	}
	doc := cursorDoc{V: cursorVersion, Tables: map[string]*tableState{}}
	for _, o := range r.tables {
		if o == tr {
			doc.Tables[o.t.name] = next
			continue
		}
		s := o.st.clone()
		if o.t.mode == ModeWatermark {
			s.Seen = encodeSeen(o.seen, nil)
		}
		doc.Tables[o.t.name] = s
	}
	cur, err := json.Marshal(doc)
	if err != nil {
		return &emitError{fmt.Errorf("encode cursor: %w", err)}
	}
	b.Cursor = cur
	if err := r.out.Emit(ctx, b); err != nil {
		return &emitError{err}
	}
	tr.st = next
	for _, h := range added {
		tr.seen[h] = struct{}{}
	}
	return nil
}

// poll reads one page of a table (and, in watermark mode once caught up,
// re-scans its overlap window). It reports whether the page was full.
func (r *reader) poll(ctx context.Context, tr *tableRuntime) (bool, error) {
	switch tr.t.mode {
	case ModeWatermark:
		return r.pollWatermark(ctx, tr)
	case ModeRowversion:
		return r.pollRowversion(ctx, tr)
	default:
		return r.pollSequence(ctx, tr)
	}
}

func (r *reader) positionOf(t *tablePlan, rw *row) position {
	pos := position{TS: dbValue{rw.vals[len(t.cols)]}}
	for _, k := range t.key {
		if rw.vals[k] == nil {
			return position{TS: pos.TS, NullKey: true}
		}
		pos.Key = append(pos.Key, dbValue{rw.vals[k]})
	}
	return pos
}

func (r *reader) pollWatermark(ctx context.Context, tr *tableRuntime) (bool, error) {
	t := tr.t
	limit := r.p.cfg.BatchSize
	q, args := t.watermarkQuery(tr.st.At, limit)
	rows, err := r.query(ctx, t, q, args)
	if err != nil {
		return false, err
	}
	if len(rows) > 0 {
		next := tr.st.clone()
		cs := t.convertAll(rows)
		var added []uint64
		for i, rw := range rows {
			c := cs[i]
			pos := r.positionOf(t, rw)
			next.At = &pos
			if inWindow(rw.vals[len(t.cols)+1]) && c.digest != 0 {
				added = append(added, c.digest)
			}
		}
		if len(tr.seen)+len(added) > t.cfg.OverlapMaxRows {
			// Too many rows in the window to remember: everything read
			// so far becomes final.
			r.log.Warn("the overlap window holds more rows than overlap_max_rows; rows read so far are no longer re-scanned",
				"table", t.name, "overlap_max_rows", t.cfg.OverlapMaxRows)
			clear(tr.seen)
			added = nil
			next.Floor = next.At
		}
		if err := r.emit(ctx, tr, cs, next, added); err != nil {
			return false, err
		}
		if len(rows) == limit {
			return true, nil
		}
	}
	if t.overlap > 0 && tr.st.At != nil && time.Since(tr.lastRescan) >= t.cfg.RescanInterval {
		if err := r.rescan(ctx, tr); err != nil {
			return false, err
		}
		tr.lastRescan = time.Now()
	}
	return false, nil
}

func inWindow(v any) bool {
	switch x := v.(type) {
	case int64:
		return x != 0
	case bool:
		return x
	case string:
		return x != "0" && x != ""
	}
	return false
}

// rescan walks the overlap window behind the watermark and emits the rows
// not read before (transactions that committed after the watermark passed
// their timestamps), then forgets the digests of rows that left the window.
func (r *reader) rescan(ctx context.Context, tr *tableRuntime) error {
	t := tr.t
	limit := r.p.cfg.BatchSize
	at := *tr.st.At
	walked := map[uint64]struct{}{}
	var from *position
	for {
		q, args := t.rescanQuery(at, tr.st.Floor, from, limit)
		rows, err := r.query(ctx, t, q, args)
		if err != nil {
			return err
		}
		var cs []converted
		var added []uint64
		for i, c := range t.convertAll(rows) {
			pos := r.positionOf(t, rows[i])
			from = &pos
			walked[c.digest] = struct{}{}
			if _, ok := tr.seen[c.digest]; ok || slices.Contains(added, c.digest) {
				continue
			}
			cs = append(cs, c)
			added = append(added, c.digest)
		}
		if len(cs) > 0 {
			r.log.Info("late rows found behind the watermark (a transaction committed after the lag window)",
				"table", t.name, "rows", len(cs))
			if err := r.emit(ctx, tr, cs, tr.st.clone(), added); err != nil {
				return err
			}
		}
		if len(rows) < limit {
			break
		}
	}
	for h := range tr.seen {
		if _, ok := walked[h]; !ok {
			delete(tr.seen, h)
		}
	}
	return nil
}

func (r *reader) pollSequence(ctx context.Context, tr *tableRuntime) (bool, error) {
	t := tr.t
	limit := r.p.cfg.BatchSize
	now := time.Now().Unix()
	gaps := tr.st.Gaps[:0:0]
	for _, g := range tr.st.Gaps {
		if now-g.Since <= int64(t.cfg.GapTimeout.Seconds()+0.999) {
			gaps = append(gaps, g)
		} else {
			r.log.Debug("missing id given up (rolled back?)", "table", t.name, "id", g.ID)
		}
	}
	tr.st.Gaps = gaps // an expiry needs no commit of its own
	q, args := t.sequenceQuery(tr.st.ID, gaps, limit)
	rows, err := r.query(ctx, t, q, args)
	if err != nil || len(rows) == 0 {
		return false, err
	}
	next := tr.st.clone()
	fresh := make([]*row, 0, len(rows))
	for _, rw := range rows {
		id, err := toInt64(rw.vals[t.key[0]])
		if err != nil {
			return false, fmt.Errorf("table %s: id column %s: %v is %w", t.name, t.cfg.Key[0], rw.vals[t.key[0]], err)
		}
		if i := slices.IndexFunc(next.Gaps, func(g gap) bool { return g.ID == id }); i >= 0 {
			next.Gaps = slices.Delete(next.Gaps, i, i+1)
		} else if next.ID != nil && id <= *next.ID {
			continue // read before; an expired gap's id comes back no more
		} else {
			if next.ID != nil && t.cfg.MaxGaps > 0 {
				for g := max(*next.ID+1, id-int64(t.cfg.MaxGaps)); g < id; g++ {
					next.Gaps = append(next.Gaps, gap{ID: g, Since: now})
				}
				if over := len(next.Gaps) - t.cfg.MaxGaps; over > 0 {
					r.log.Warn("more missing ids than max_gaps; the oldest are no longer waited for", "table", t.name, "dropped", over)
					next.Gaps = next.Gaps[over:]
				}
			}
			idc := id
			next.ID = &idc
		}
		fresh = append(fresh, rw)
	}
	cs := t.convertAll(fresh)
	if len(cs) == 0 {
		tr.st = next
		return false, nil
	}
	if err := r.emit(ctx, tr, cs, next, nil); err != nil {
		return false, err
	}
	return len(rows) == limit, nil
}

func (r *reader) pollRowversion(ctx context.Context, tr *tableRuntime) (bool, error) {
	t := tr.t
	limit := r.p.cfg.BatchSize
	var last []byte
	if tr.st.RV != "" {
		var err error
		if last, err = hex.DecodeString(tr.st.RV); err != nil {
			return false, fmt.Errorf("cursor: table %s: rv: %w", t.name, err)
		}
	}
	q, args := t.rowversionQuery(last, limit)
	rows, err := r.query(ctx, t, q, args)
	if err != nil || len(rows) == 0 {
		return false, err
	}
	next := tr.st.clone()
	for _, rw := range rows {
		if s, ok := rw.vals[t.rv].(string); ok {
			rw.vals[t.rv] = []byte(s) // a driver that does not call it binary
		}
		rv, ok := rw.vals[t.rv].([]byte)
		if !ok {
			return false, fmt.Errorf("table %s: rowversion column %s is %T, not binary", t.name, t.cfg.Rowversion, rw.vals[t.rv])
		}
		next.RV = hex.EncodeToString(rv)
	}
	if err := r.emit(ctx, tr, t.convertAll(rows), next, nil); err != nil {
		return false, err
	}
	return len(rows) == limit, nil
}

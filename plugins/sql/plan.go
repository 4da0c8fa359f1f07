package sql

import (
	"fmt"
	"hash/fnv"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/sdk"
)

// plan is a compiled configuration.
type plan struct {
	cfg        Config
	d          dialect
	dsn        string
	loc        *time.Location
	origin     canonical.Origin
	tables     []*tablePlan
	eventTypes []string
}

func (p *plan) table(name string) *tablePlan {
	for _, t := range p.tables {
		if t != nil && t.name == name {
			return t
		}
	}
	return nil
}

// tablePlan is one compiled table: the columns it selects, where its key,
// timestamp and version are in a row, and how a row becomes an event.
type tablePlan struct {
	cfg  *TableConfig
	p    *plan
	name string
	mode string
	ref  string // Ref prefix: the table, or the name of a query
	from string

	cols    []string
	colIdx  map[string]int
	key     []int
	ts      int // watermark column, or -1
	rv      int // rowversion column, or -1
	version []int

	single  *mapping            // watermark, rowversion
	typeCol int                 // outbox
	types   map[string]*mapping // outbox

	retracts   *tablePlan // tombstones
	recKey     []int
	recVersion []int
	occurred   *timePlan

	lag, overlap time.Duration
	sel          string // the select list, extras included
	extras       int    // trailing columns after cols: raw watermark, in-window flag
}

func (t *tablePlan) use(name string) int {
	if i, ok := t.colIdx[name]; ok {
		return i
	}
	t.cols = append(t.cols, name)
	t.colIdx[name] = len(t.cols) - 1
	return len(t.cols) - 1
}

func (t *tablePlan) useAll(ps *problems, path string, names []string) []int {
	out := make([]int, 0, len(names))
	for i, n := range names {
		if checkIdent(ps, fmt.Sprintf("%s[%d]", path, i), n) {
			out = append(out, t.use(n))
		}
	}
	return out
}

func (t *tablePlan) mappings() []*mapping {
	var out []*mapping
	if t.single != nil {
		out = append(out, t.single)
	}
	for _, m := range t.types {
		if m != nil {
			out = append(out, m)
		}
	}
	return out
}

func newTablePlan(ps *problems, path string, p *plan, tc *TableConfig) *tablePlan {
	t := &tablePlan{cfg: tc, p: p, name: tc.Name, mode: tc.Mode, colIdx: map[string]int{}, ts: -1, rv: -1, typeCol: -1,
		lag: max(tc.Lag, 0), overlap: max(tc.Overlap, 0)}
	d := p.d
	switch {
	case (tc.Table == "") == (tc.Query == ""):
		ps.add(path+".table", "exactly one of table and query is required")
	case tc.Table != "":
		checkTableName(ps, path+".table", tc.Table)
		t.from = quoteName(d, tc.Table) + " AS src"
		t.ref = tc.Table
	default:
		checkQuery(ps, path+".query", tc.Query)
		t.from = "(" + strings.TrimRight(strings.TrimSpace(tc.Query), ";") + ") AS src"
		t.ref = tc.Name
	}
	sequence := tc.Mode == ModeOutbox || tc.Mode == ModeTombstones
	if sequence && len(tc.Key) == 0 {
		tc.Key = []string{"id"}
	}
	if len(tc.Key) == 0 {
		ps.add(path+".key", "required: the record key column(s)")
	}
	if sequence && len(tc.Key) != 1 {
		ps.add(path+".key", "%s mode needs exactly one key: an increasing integer id", tc.Mode)
	}
	t.key = t.useAll(ps, path+".key", tc.Key)

	notFor := func(field string, set bool) {
		if set {
			ps.add(path+"."+field, "does not apply to %s mode", tc.Mode)
		}
	}
	em := EventMapping{EventType: tc.EventType, Occurred: tc.Occurred, Recorded: tc.Recorded, Fields: tc.Fields}
	switch tc.Mode {
	case ModeWatermark:
		if checkIdent(ps, path+".timestamp", tc.Timestamp) {
			t.ts = t.use(tc.Timestamp)
		}
		if len(tc.Version) == 0 {
			tc.Version = []string{tc.Timestamp}
		}
		notFor("rowversion", tc.Rowversion != "")
	case ModeRowversion:
		if p.d.name() != "sqlserver" {
			ps.add(path+".mode", "rowversion mode needs SQL Server (driver sqlserver)")
		}
		if checkIdent(ps, path+".rowversion", tc.Rowversion) {
			t.rv = t.use(tc.Rowversion)
		}
		if len(tc.Version) == 0 {
			tc.Version = []string{tc.Rowversion}
		}
		notFor("timestamp", tc.Timestamp != "")
	case ModeOutbox, ModeTombstones:
		notFor("timestamp", tc.Timestamp != "")
		notFor("rowversion", tc.Rowversion != "")
		notFor("version", len(tc.Version) > 0)
	default:
		ps.add(path+".mode", "want one of watermark, outbox, rowversion, tombstones, got %q", tc.Mode)
		return t
	}
	if tc.Mode != ModeWatermark {
		notFor("clock", tc.Clock != "")
	}
	t.version = t.useAll(ps, path+".version", tc.Version)

	switch tc.Mode {
	case ModeWatermark, ModeRowversion:
		t.single = compileMapping(ps, path, em, t)
		notFor("types", tc.Types != nil)
		notFor("retracts", tc.Retracts != "")
	case ModeOutbox:
		if checkIdent(ps, path+".type_column", tc.TypeColumn) {
			t.typeCol = t.use(tc.TypeColumn)
		}
		if len(tc.Types) == 0 {
			ps.add(path+".types", "required: the mapping of each outbox type")
		}
		t.types = map[string]*mapping{}
		for k, em := range tc.Types {
			t.types[k] = compileMapping(ps, path+".types."+k, em, t)
		}
		notFor("event_type", tc.EventType != "")
		notFor("fields", tc.Fields != nil)
		notFor("occurred", tc.Occurred != nil)
		notFor("retracts", tc.Retracts != "")
	case ModeTombstones:
		if tc.Occurred == nil {
			ps.add(path+".occurred", "required: when the row was deleted")
		} else {
			t.occurred = compileTime(ps, path+".occurred", *tc.Occurred, t)
		}
		t.recKey = t.useAll(ps, path+".record_key", tc.RecordKey)
		t.recVersion = t.useAll(ps, path+".record_version", tc.RecordVersion)
		notFor("event_type", tc.EventType != "")
		notFor("fields", tc.Fields != nil)
		notFor("types", tc.Types != nil)
	}
	t.sel = t.selectList()
	return t
}

// linkTombstones resolves what a tombstone table retracts.
func linkTombstones(ps *problems, path string, p *plan, t *tablePlan) {
	r := p.table(t.cfg.Retracts)
	switch {
	case t.cfg.Retracts == "":
		ps.add(path+".retracts", "required: the name of the table whose deletes this table records")
	case r == nil:
		ps.add(path+".retracts", "no table is named %q", t.cfg.Retracts)
	case r.mode == ModeTombstones:
		ps.add(path+".retracts", "%q is a tombstones table itself", t.cfg.Retracts)
	default:
		t.retracts = r
		if len(t.cfg.RecordKey) != len(r.cfg.Key) {
			ps.add(path+".record_key", "want %d column(s), one per key column of %s (%s)", len(r.cfg.Key), r.name, strings.Join(r.cfg.Key, ", "))
		}
		if len(t.cfg.RecordVersion) != len(r.cfg.Version) {
			ps.add(path+".record_version", "want %d column(s), one per version column of %s (%s)", len(r.cfg.Version), r.name, strings.Join(r.cfg.Version, ", "))
		}
	}
}

func (t *tablePlan) selectList() string {
	d := t.p.d
	parts := make([]string, 0, len(t.cols)+2)
	for _, c := range t.cols {
		parts = append(parts, col(d, c))
	}
	if t.mode == ModeWatermark && t.ts >= 0 {
		ts := col(d, t.cols[t.ts])
		parts = append(parts, d.rawTS(ts)+" AS dray_wm")
		win := "0"
		if t.overlap > 0 {
			win = "CASE WHEN " + ts + " >= " + d.clockMinus(t.cfg.Clock, t.lag+t.overlap) + " THEN 1 ELSE 0 END"
		}
		parts = append(parts, win+" AS dray_win")
		t.extras = 2
	}
	return strings.Join(parts, ", ")
}

func (t *tablePlan) keyCols() []string {
	out := make([]string, len(t.key))
	for i, k := range t.key {
		out[i] = col(t.p.d, t.cols[k])
	}
	return out
}

func (t *tablePlan) orderBy(ts string) string {
	d := t.p.d
	terms := []string{ts}
	for _, k := range t.keyCols() {
		terms = append(terms, k+d.nullsFirst())
	}
	return " ORDER BY " + strings.Join(terms, ", ")
}

// watermarkQuery selects the rows after at (nil: from the start) whose
// timestamp is at most the database clock minus the lag, in (ts, key)
// order.
func (t *tablePlan) watermarkQuery(at *position, limit int) (string, []any) {
	d := t.p.d
	q := &query{d: d}
	ts := col(d, t.cols[t.ts])
	q.WriteString("FROM " + t.from + " WHERE " + ts + " <= " + d.clockMinus(t.cfg.Clock, t.lag))
	if at != nil {
		q.WriteString(" AND ")
		q.after(ts, t.keyCols(), *at)
	}
	q.WriteString(t.orderBy(ts))
	return d.limit(t.sel, q.b.String(), limit), q.args
}

// rescanQuery selects the rows of the overlap window at or before at:
// timestamp at least clock − (lag + overlap), after floor (rows before it
// are final) and after from (the page before).
func (t *tablePlan) rescanQuery(at position, floor, from *position, limit int) (string, []any) {
	d := t.p.d
	q := &query{d: d}
	ts := col(d, t.cols[t.ts])
	keys := t.keyCols()
	q.WriteString("FROM " + t.from + " WHERE " + ts + " >= " + d.clockMinus(t.cfg.Clock, t.lag+t.overlap) + " AND ")
	q.atOrBefore(ts, keys, at)
	for _, p := range []*position{floor, from} {
		if p != nil {
			q.WriteString(" AND ")
			q.after(ts, keys, *p)
		}
	}
	q.WriteString(t.orderBy(ts))
	return d.limit(t.sel, q.b.String(), limit), q.args
}

// sequenceQuery selects outbox or tombstone rows after id (nil: from the
// start) and the missing ids still waited for.
func (t *tablePlan) sequenceQuery(id *int64, gaps []gap, limit int) (string, []any) {
	d := t.p.d
	q := &query{d: d}
	k := t.keyCols()[0]
	q.WriteString("FROM " + t.from)
	if id != nil {
		q.WriteString(" WHERE " + k + " > " + q.arg(*id))
		if len(gaps) > 0 {
			ph := make([]string, len(gaps))
			for i, g := range gaps {
				ph[i] = q.arg(g.ID)
			}
			q.WriteString(" OR " + k + " IN (" + strings.Join(ph, ", ") + ")")
		}
	}
	q.WriteString(" ORDER BY " + k)
	return d.limit(t.sel, q.b.String(), limit), q.args
}

// rowversionQuery selects SQL Server rows changed after rv whose
// transactions are all committed: below MIN_ACTIVE_ROWVERSION().
func (t *tablePlan) rowversionQuery(rv []byte, limit int) (string, []any) {
	d := t.p.d
	q := &query{d: d}
	c := col(d, t.cols[t.rv])
	q.WriteString("FROM " + t.from + " WHERE ")
	if rv != nil {
		q.WriteString(c + " > " + q.arg(rv) + " AND ")
	}
	q.WriteString(c + " < MIN_ACTIVE_ROWVERSION() ORDER BY " + c)
	return d.limit(t.sel, q.b.String(), limit), q.args
}

// converted is one row after mapping: an event or a reject.
type converted struct {
	ev     *canonical.Event
	rej    *sdk.Reject
	digest uint64 // of the record key and version; for a row without a key, of its contents
}

func digest(key, version string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(key))
	h.Write([]byte{0})
	h.Write([]byte(version))
	return h.Sum64() | 1 // never 0
}

func (t *tablePlan) vals(r *row, idx []int) ([]any, bool) {
	out := make([]any, len(idx))
	ok := true
	for i, j := range idx {
		out[i] = r.vals[j]
		if out[i] == nil {
			ok = false
		}
	}
	return out, ok
}

// parallelConvertMin is the page size from which rows are converted on
// several cores.
const parallelConvertMin = 128

// convertAll converts a page of rows, in order. Mapping a row and building
// its event costs ~30 µs, most of a page's time: a large page is split
// over GOMAXPROCS goroutines (convert only reads the plan), while the
// agent commits the previous page (pipelined Emit).
func (t *tablePlan) convertAll(rows []*row) []converted {
	cs := make([]converted, len(rows))
	workers := min(runtime.GOMAXPROCS(0), len(rows)/(parallelConvertMin/2))
	if len(rows) < parallelConvertMin || workers <= 1 {
		for i, rw := range rows {
			cs[i] = t.convert(rw)
		}
		return cs
	}
	var wg sync.WaitGroup
	chunk := (len(rows) + workers - 1) / workers
	for lo := 0; lo < len(rows); lo += chunk {
		hi := min(lo+chunk, len(rows))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				cs[i] = t.convert(rows[i])
			}
		})
	}
	wg.Wait()
	return cs
}

// convert maps one row.
func (t *tablePlan) convert(r *row) converted {
	keyVals, ok := t.vals(r, t.key)
	ref := t.ref + "/" + joinKey(keyVals)
	reject := func(code, format string, args ...any) converted {
		return converted{rej: &sdk.Reject{Code: code, Reason: fmt.Sprintf(format, args...), Ref: ref, Payload: rowJSON(t.cols, r.vals[:len(t.cols)])}}
	}
	if !ok {
		// A row without a key is known by its contents, so that the
		// overlap re-scan can tell one committed late from one already
		// rejected (two rows alike in every column are one reject).
		c := reject(RejectNullKey, "key column(s) %s: NULL", strings.Join(t.cfg.Key, ", "))
		c.digest = digest("\x00"+t.name, string(c.rej.Payload))
		return c
	}
	verVals, _ := t.vals(r, t.version)
	recKey := t.name + "/" + joinKey(keyVals)
	version := joinKey(verVals)
	dg := digest(recKey, version)
	var (
		m    = t.single
		data canonical.Data
		occ  time.Time
		opts []canonical.EventOption
		rerr *rowError
	)
	switch t.mode {
	case ModeOutbox:
		tv, present, err := (&valuePlan{col: t.typeCol, column: t.cfg.TypeColumn}).get(r)
		var typ string
		if err == nil && present {
			typ, err = textOf(tv)
		}
		if err != nil {
			c := reject(err.code, "%s: %s", t.cfg.TypeColumn, err.msg)
			c.digest = dg
			return c
		}
		if m = t.types[strings.TrimSpace(typ)]; m == nil {
			c := reject(RejectUnknownType, "outbox type %q has no mapping (types: …)", truncate(typ, 64))
			c.digest = dg
			return c
		}
	case ModeTombstones:
		rk, ok := t.vals(r, t.recKey)
		if !ok {
			c := reject(RejectNullKey, "record key column(s) %s: NULL", strings.Join(t.cfg.RecordKey, ", "))
			c.digest = dg
			return c
		}
		rv, _ := t.vals(r, t.recVersion)
		var present bool
		occ, present, rerr = t.occurred.get(r, t.p.loc)
		if rerr == nil && !present {
			rerr = rowErr(RejectBadTime, "%s is NULL", t.occurred.src.where())
		}
		if rerr == nil {
			o := t.p.origin
			data = &canonical.EventRetracted{
				RetractedEventId: canonical.EventID(o.SiteID, o.Source, t.retracts.name+"/"+joinKey(rk), joinKey(rv)),
				Reason:           t.cfg.Reason,
			}
		}
	}
	if m != nil {
		data, occ, opts, rerr = m.build(r, t.p.loc, t.p.cfg.SiteID)
	}
	if rerr != nil {
		c := reject(rerr.code, "%s", rerr.msg)
		c.digest = dg
		return c
	}
	ev, err := canonical.NewEvent(t.p.origin, canonical.Record{Key: recKey, Version: version, Ref: ref}, occ, data, opts...)
	if err != nil {
		c := reject(RejectInvalidEvent, "%s: %v", canonical.TypeOf(data).Name, err)
		c.digest = dg
		return c
	}
	return converted{ev: ev, digest: dg}
}

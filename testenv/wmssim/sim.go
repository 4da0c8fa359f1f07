package wmssim

import (
	"container/heap"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/canonical/localtime"
	"github.com/draylink/dray/internal/configfile"
)

// Sim is one simulator run: the world, the simulated clock, the floor's
// state and the outputs. Build it with New and call Run once.
type Sim struct {
	cfg   Config
	w     *World
	log   *slog.Logger
	loc   *time.Location
	start time.Time // simulated start
	wall0 time.Time // technical clock start
	now   time.Time // simulated clock
	end   time.Time // simulated stop; zero: none

	q   actionQueue
	seq int64

	rOrder, rFloor, rCarrier, rInbound, rBad *rand.Rand

	ids ids

	pos     map[posKey]*position
	itemPos map[*Item][]*position
	openASN map[*Item]bool
	lambda  float64 // orders per simulated second

	st      store
	truth   *truthWriter
	pending []*output
	csvRows []*movement // committed, not yet exported
	out945  map[*Owner][]*shipment
	out214  map[string][]*milestone // "<scac>/<owner>"

	insertSQL map[string]string

	facts, bad, files, rows, late int64
	kinds                         map[string]int64
	stopReason                    string
}

// ids are the simulator's counters; each starts at a seeded base so that
// runs with different seeds do not share keys.
type ids struct {
	order, orderNo, line, move, version, outbox, tomb, serial, ship, receipt, rline, sevent, delivery int64
	fact, badID, junkMove, junkShip, isa                                                              int64
	csvFile, snapshot                                                                                 int64
	isaBy                                                                                             map[string]int64
}

// action is something scheduled to happen at a simulated time.
type action struct {
	at     time.Time
	seq    int64
	fn     func()
	commit bool // the late commit of a transaction
}

type actionQueue []*action

func (q actionQueue) Len() int           { return len(q) }
func (q actionQueue) Less(i, j int) bool { return q.lessActions(q[i], q[j]) }

func (actionQueue) lessActions(a, b *action) bool {
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	return a.seq < b.seq
}
func (q actionQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *actionQueue) Push(x any)   { *q = append(*q, x.(*action)) }
func (q *actionQueue) Pop() any {
	old := *q
	a := old[len(old)-1]
	*q = old[:len(old)-1]
	return a
}

// at schedules fn at t (never before now).
func (s *Sim) at(t time.Time, fn func()) {
	if t.Before(s.now) {
		t = s.now
	}
	s.seq++
	heap.Push(&s.q, &action{at: t, seq: s.seq, fn: fn})
}

// after schedules fn d after now.
func (s *Sim) after(d time.Duration, fn func()) { s.at(s.now.Add(d), fn) }

// New builds a simulator from a configuration (SetDefaults and Validate
// applied, as LoadConfig does) and a logger.
func New(cfg Config, log *slog.Logger) (*Sim, error) {
	cfg.SetDefaults()
	var errs configfile.Errors
	cfg.Validate(&errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w, err := NewWorld(&cfg)
	if err != nil {
		return nil, err
	}
	wall, _ := localtime.ParseWall("2006-01-02T15:04:05", cfg.Start)
	r, err := localtime.Resolve(wall, w.Site.Loc)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	s := &Sim{cfg: cfg, w: w, log: log, loc: w.Site.Loc, start: r.Time, now: r.Time,
		rOrder: newRand(cfg.Seed, "orders"), rFloor: newRand(cfg.Seed, "floor"), rCarrier: newRand(cfg.Seed, "carrier"),
		rInbound: newRand(cfg.Seed, "inbound"), rBad: newRand(cfg.Seed, "bad"),
		pos: map[posKey]*position{}, itemPos: map[*Item][]*position{}, openASN: map[*Item]bool{},
		out945: map[*Owner][]*shipment{}, out214: map[string][]*milestone{}, kinds: map[string]int64{},
		insertSQL: map[string]string{}}
	if cfg.WallStart != "" {
		s.wall0, _ = time.Parse(time.RFC3339, cfg.WallStart)
	}
	if d := cfg.Stop.Duration.D(); d > 0 {
		s.end = s.start.Add(time.Duration(float64(d) * cfg.Acceleration))
	}
	ri := newRand(cfg.Seed, "ids")
	s.ids = ids{
		order: 100000 + ri.Int64N(100000), orderNo: 700000 + ri.Int64N(90000), line: 1000000 + ri.Int64N(1000000),
		move: 880000 + ri.Int64N(10000), version: 5500000 + ri.Int64N(100000), outbox: 1,
		serial: 4300 + ri.Int64N(1000), ship: 1 + ri.Int64N(50), receipt: 5500 + ri.Int64N(400),
		rline: 20000 + ri.Int64N(10000), sevent: 300000 + ri.Int64N(10000), junkMove: 990000000, junkShip: 0,
		isa: 4500 + ri.Int64N(3000), isaBy: map[string]int64{}, snapshot: 0,
	}
	s.lambda = cfg.Rate / cfg.Acceleration / factsPerOrder
	return s, nil
}

// factsPerOrder is how many facts one order brings on average with the
// default process settings, everything it causes included (receipts to
// replace its stock, counts, holds, the carrier's reports, snapshots):
// measured over two simulated days with the defaults (docs/PERFORMANCE.md),
// it turns Rate into an order arrival rate.
const factsPerOrder = 36.0

// World returns the simulated world.
func (s *Sim) World() *World { return s.w }

// ---- clocks ----

// local renders a simulated instant as the site's wall time.
func (s *Sim) local(t time.Time) string { return t.In(s.loc).Format("2006-01-02 15:04:05") }

// date renders the site-local date.
func (s *Sim) date(t time.Time) string { return t.In(s.loc).Format("2006-01-02") }

// tech maps a simulated instant to the technical clock, whole seconds.
func (s *Sim) tech(t time.Time) techTime {
	d := time.Duration(float64(t.Sub(s.start)) / s.cfg.Acceleration)
	return techTime(s.wall0.Add(d).UTC().Truncate(time.Second))
}

// resolved is the instant a source's local wall reading of t in loc
// names (the earlier one in a fall-back hour), as a connector reads it.
func resolved(t time.Time, loc *time.Location) (time.Time, bool) {
	lt := t.In(loc)
	w := localtime.Wall{Year: lt.Year(), Month: lt.Month(), Day: lt.Day(), Hour: lt.Hour(), Minute: lt.Minute(), Second: lt.Second()}
	r, err := localtime.Resolve(w, loc)
	if err != nil {
		return t.UTC(), false
	}
	return r.Time.UTC(), r.Ambiguous
}

// ---- facts ----

// fact is something that happened, to be written to the ground truth
// when its first source commits.
type fact struct {
	id      string
	kind    string
	typ     string
	subject string
	key     string
	sinks   []string
	t       time.Time
	amb     bool
	detail  *Detail
	counted bool // a source of it was committed in the simulation
	written bool // its fact line is in the truth file
}

// newFact makes a fact of kind for data d that occurred at t (the
// instant; its local reading in loc is what sources write).
func (s *Sim) newFact(kind string, d canonical.Data, t time.Time, loc *time.Location, detail *Detail) *fact {
	s.ids.fact++
	rt, amb := resolved(t, loc)
	typ := canonical.TypeOf(d)
	f := &fact{id: "F" + strconv.FormatInt(s.ids.fact, 10), kind: kind, typ: typ.Name, subject: canonical.SubjectOf(d),
		key: canonical.FactKey(s.cfg.Site.ID, d, rt, ""), t: rt, amb: amb, detail: detail}
	f.sinks = s.sinksOf(typ.Short())
	return f
}

func (s *Sim) sinksOf(short string) []string {
	var out []string
	for _, sink := range sortedKeys(s.cfg.Routes) {
		for _, p := range s.cfg.Routes[sink] {
			if routeMatch(p, short) {
				out = append(out, sink)
				break
			}
		}
	}
	return out
}

// eventID is the expected event id of a record of a source.
func (s *Sim) eventID(source, key, version string) string {
	return canonical.EventID(s.cfg.Site.ID, source, key, version)
}

// tableVia is the via of a row version read by the sql connector's table
// entry name (watermark or rowversion mode): record key "<name>/<pk>",
// version the row_version.
func (s *Sim) tableVia(name, table string, pk any, version int64, mutable bool) Via {
	p := fmt.Sprint(pk)
	v := strconv.FormatInt(version, 10)
	key := name + "/" + url.PathEscape(p)
	return Via{Src: "table", Table: table, PK: p, Version: v, Mutable: mutable, Source: s.cfg.Identity.DB,
		RecordKey: key, RecordVersion: v, EventID: s.eventID(s.cfg.Identity.DB, key, v)}
}

// outboxVia is the via of an outbox row (record key "outbox/<id>", no
// version).
func (s *Sim) outboxVia(id int64) Via {
	p := strconv.FormatInt(id, 10)
	key := "outbox/" + p
	return Via{Src: "outbox", Table: "outbox", PK: p, Source: s.cfg.Identity.DB, RecordKey: key,
		EventID: s.eventID(s.cfg.Identity.DB, key, "")}
}

// ---- transactions and outputs ----

// rec is one truth entry of an output: a fact's via, or a bad input.
type rec struct {
	f   *fact
	via Via
	bad *Record
}

// output is one unit of commit: a database transaction or a file.
type output struct {
	stmts []stmt
	file  *fileOut
	recs  []rec
	moves []*movement
}

// txb builds one database transaction of the floor.
type txb struct {
	s       *Sim
	tech    techTime
	stmts   []stmt
	recs    []rec
	touched []*position
	moves   []*movement
	badOK   bool // may carry a bad row (db_null_key, db_out_of_range)
	lateOK  bool // may commit late: inserts only (and balances)
}

func (s *Sim) begin() *txb { return &txb{s: s, tech: s.tech(s.now)} }

func (s *Sim) version() int64 { s.ids.version++; return s.ids.version }

func (t *txb) exec(q string, args ...any) {
	if t.s.st != nil {
		t.stmts = append(t.stmts, stmt{sql: q, args: args})
	}
}

// insert adds an INSERT of cols into table.
func (t *txb) insert(table string, cols []string, vals ...any) {
	if t.s.st == nil {
		return
	}
	k := table + "|" + strings.Join(cols, ",")
	q, ok := t.s.insertSQL[k]
	if !ok {
		q = "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES (" +
			strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
		t.s.insertSQL[k] = q
	}
	t.stmts = append(t.stmts, stmt{sql: q, args: vals})
}

// via records that f was written by this transaction (database sources are
// recorded only when there is a database).
func (t *txb) via(f *fact, v Via) {
	if t.s.st == nil {
		return
	}
	t.s.countFact(f)
	t.recs = append(t.recs, rec{f: f, via: v})
}

func (t *txb) touch(p *position) {
	if !slices.Contains(t.touched, p) {
		t.touched = append(t.touched, p)
	}
}

// outbox adds an outbox row and returns its id.
func (t *txb) outbox(aggType, aggID, typ string, payload []byte) int64 {
	t.s.ids.outbox++
	id := t.s.ids.outbox
	var agg any = aggID
	if aggID == "" {
		agg = nil
	}
	t.insert("outbox", []string{"id", "aggregatetype", "aggregateid", "type", "payload", "created_at"},
		id, aggType, agg, typ, string(payload), t.tech)
	return id
}

// countFact counts a fact the first time one of its sources is written.
func (s *Sim) countFact(f *fact) {
	if f.counted {
		return
	}
	f.counted = true
	s.facts++
	s.kinds[f.kind]++
}

// commit seals a transaction. Some may commit late (their rows keep the
// timestamps and versions of now) and some carry a bad row.
func (t *txb) commit() {
	s := t.s
	if t.badOK {
		s.maybeBadRow(t)
	}
	if t.lateOK && chance(s.rFloor, s.cfg.Process.LongTxn) {
		delay := time.Duration(float64(s.cfg.Process.LongTxnDelay.D()) * s.cfg.Acceleration)
		s.seq++
		s.late++
		heap.Push(&s.q, &action{at: s.now.Add(delay), seq: s.seq, fn: func() { s.ready(t) }, commit: true})
		return
	}
	s.ready(t)
}

// ready writes the balance rows a transaction touched (with the state and
// clock of the moment it commits) and queues it for commit.
func (s *Sim) ready(t *txb) {
	tech := s.tech(s.now)
	for _, p := range t.touched {
		t.exec(`INSERT INTO inventory_balance (location_code, owner_id, sku, lot, status, expiry_date, qty_on_hand, qty_allocated, base_uom, row_version, last_modified)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (location_code, owner_id, sku, lot, status) DO UPDATE SET qty_on_hand = excluded.qty_on_hand,
qty_allocated = excluded.qty_allocated, row_version = excluded.row_version, last_modified = excluded.last_modified`,
			p.loc.Code, p.item.Owner.ID, p.item.SKU, p.lot, p.status, nullStr(p.expiry),
			fmtQty(p.book, p.item.BaseUOM), fmtQty(p.alloc, p.item.BaseUOM), p.item.BaseUOM, s.version(), tech)
	}
	if len(t.stmts) == 0 && len(t.recs) == 0 && len(t.moves) == 0 {
		return
	}
	s.rows += int64(len(t.stmts))
	s.pending = append(s.pending, &output{stmts: t.stmts, recs: t.recs, moves: t.moves})
	s.csvRows = append(s.csvRows, t.moves...)
}

// fileOut is a file to write by rename.
type fileOut struct {
	dir, name string
	data      []byte
}

// addFile queues a file with its truth entries; vias get the path and hash.
func (s *Sim) addFile(dir, name string, data []byte, recs []rec) {
	path := filepath.Join(dir, name)
	sum := sha256Hex(data)
	for i := range recs {
		if recs[i].bad != nil {
			for j := range recs[i].bad.Where {
				recs[i].bad.Where[j].Path, recs[i].bad.Where[j].SHA256 = path, sum
			}
			continue
		}
		recs[i].via.Path, recs[i].via.SHA256 = path, sum
		s.countFact(recs[i].f)
	}
	s.files++
	s.pending = append(s.pending, &output{file: &fileOut{dir: dir, name: name, data: data}, recs: recs})
}

// flush writes the truth entries of every pending output, fsyncs the
// truth, then commits the transactions and renames the files in order.
func (s *Sim) flush(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	for _, o := range s.pending {
		if err := s.writeRecs(o.recs); err != nil {
			return err
		}
	}
	if err := s.truth.sync(); err != nil {
		return err
	}
	dirs := map[string]bool{}
	for _, o := range s.pending {
		switch {
		case o.file != nil:
			if err := writeFileAtomic(o.file.dir, o.file.name, o.file.data); err != nil {
				return err
			}
			dirs[o.file.dir] = true
		case len(o.stmts) > 0:
			if err := s.st.commit(ctx, o.stmts); err != nil {
				return err
			}
		}
	}
	for _, d := range sortedKeys(dirs) {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	clear(s.pending)
	s.pending = s.pending[:0]
	return nil
}

// writeRecs writes one output's truth entries: a fact line the first time
// a fact appears (with every via of this output), via lines after.
func (s *Sim) writeRecs(recs []rec) error {
	done := map[*fact]bool{}
	for i, r := range recs {
		if r.bad != nil {
			if err := s.truth.write(r.bad); err != nil {
				return err
			}
			continue
		}
		if done[r.f] {
			continue
		}
		done[r.f] = true
		var vias []Via
		for _, r2 := range recs[i:] {
			if r2.f == r.f {
				vias = append(vias, r2.via)
			}
		}
		if !r.f.written {
			r.f.written = true
			if err := s.truth.write(&Record{Rec: "fact", ID: r.f.id, Kind: r.f.kind, Type: r.f.typ, Subject: r.f.subject,
				Key: r.f.key, Sinks: r.f.sinks, Time: r.f.t.Format(time.RFC3339), Ambiguous: r.f.amb, Via: vias,
				Detail: r.f.detail}); err != nil {
				return err
			}
			continue
		}
		if err := s.truth.write(&Record{Rec: "via", ID: r.f.id, Via: vias}); err != nil {
			return err
		}
	}
	return nil
}

// ---- helpers ----

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullInt(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// fmtQty renders milli-units: whole numbers for counted units, three
// decimals for kilograms.
func fmtQty(milli int64, uom string) string {
	if uom == "KG" {
		neg := ""
		if milli < 0 {
			neg, milli = "-", -milli
		}
		return fmt.Sprintf("%s%d.%03d", neg, milli/1000, milli%1000)
	}
	return strconv.FormatInt(milli/1000, 10)
}

// fmtX12 renders milli-units as an X12 R number (no trailing zeros).
func fmtX12(milli int64) string {
	s := fmt.Sprintf("%d.%03d", milli/1000, milli%1000)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

package wmssim

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/canonical/gs1"
	"github.com/draylink/dray/canonical/localtime"
	"github.com/draylink/dray/internal/configfile"
)

// Config is a simulator run. It is read from YAML strictly (unknown keys
// are errors, see LoadConfig); the zero value of every optional field has a
// documented default, filled by SetDefaults. The package documentation
// shows a complete file.
type Config struct {
	// Seed makes the world and everything that happens in it: the same
	// seed and configuration give the same facts, rows and files.
	Seed uint64 `yaml:"seed"`
	// Site is the warehouse.
	Site SiteConfig `yaml:"site"`
	// World sizes the master data.
	World WorldConfig `yaml:"world"`
	// Start is the simulated start, a site-local wall time
	// "2006-01-02T15:04:05" (default "2025-03-14T05:00:00").
	Start string `yaml:"start"`
	// Rate is the target number of facts per wall-clock second (default
	// 200). With Acceleration it sets how busy the warehouse is: about
	// Rate/Acceleration facts per simulated second.
	Rate float64 `yaml:"rate"`
	// Acceleration is simulated seconds per wall-clock second (default 60:
	// a simulated day in 24 minutes).
	Acceleration float64 `yaml:"acceleration"`
	// MaxSpeed runs without pacing, as fast as the store allows
	// (benchmarks, tests). The simulated world is the same; only the wall
	// time it takes changes.
	MaxSpeed bool `yaml:"max_speed"`
	// WallStart is the instant (RFC 3339) the technical clock starts from:
	// last_modified, outbox and tombstone times are WallStart plus the
	// simulated time elapsed divided by Acceleration. Default: the time
	// the run starts, which keeps them next to the database's own clock
	// for timestamp-watermark connectors. Set it for byte-identical reruns.
	WallStart string `yaml:"wall_start"`
	// Stop ends the run (and a SIGTERM does).
	Stop StopConfig `yaml:"stop"`
	// Store is the WMS database; empty writes no database.
	Store StoreConfig `yaml:"store"`
	// Drops are the file drop directories; an empty one writes no such files.
	Drops DropConfig `yaml:"drops"`
	// Intervals are how often, in simulated time, files are produced.
	Intervals IntervalConfig `yaml:"intervals"`
	// Process holds the probabilities of the floor's events.
	Process ProcessConfig `yaml:"process"`
	// Bad holds the share of each category of bad input (0: none).
	Bad BadConfig `yaml:"bad"`
	// Truth is the ground-truth file (JSON lines), required.
	Truth string `yaml:"truth"`
	// Identity holds the source URIs the connectors are configured with,
	// used to compute expected event ids.
	Identity IdentityConfig `yaml:"identity"`
	// Routes lists, per sink, the canonical event types it receives
	// ("inventory.moved", or a prefix ending in "*"). Default: DefaultRoutes.
	Routes map[string][]string `yaml:"routes"`
}

// SiteConfig describes the warehouse.
type SiteConfig struct {
	ID       string `yaml:"id"`        // default MEM1
	Name     string `yaml:"name"`      // default NORTHWIND 3PL MEMPHIS
	TimeZone string `yaml:"time_zone"` // IANA, default America/Chicago
	GLN      string `yaml:"gln"`       // default 0614141000104
	EDIID    string `yaml:"edi_id"`    // ISA06 of the site's documents, default NORTHWIND3PL
}

// WorldConfig sizes the master data.
type WorldConfig struct {
	Owners        int `yaml:"owners"`          // depositors, 1–4, default 2
	ItemsPerOwner int `yaml:"items_per_owner"` // default 30
	Carriers      int `yaml:"carriers"`        // 1–5, default 3
	ShipTos       int `yaml:"ship_tos"`        // delivery points per owner, 1–14, default 6
}

// StopConfig ends a run; with both set, whichever comes first. With
// neither, the run lasts until SIGTERM.
type StopConfig struct {
	// Facts stops after this many facts (the operation that reaches it
	// completes, and pending files are flushed).
	Facts int64 `yaml:"facts"`
	// Duration stops when the simulated clock has advanced by Duration ×
	// Acceleration: the wall time of a paced run, and the same world in a
	// MaxSpeed run.
	Duration configfile.Duration `yaml:"duration"`
}

// StoreConfig chooses the WMS database.
type StoreConfig struct {
	// SQLite is a database file path (created; WAL mode).
	SQLite string `yaml:"sqlite"`
	// Postgres is a pgx connection string.
	Postgres string `yaml:"postgres"`
	// Reset drops the simulator's tables first; without it the schema
	// must not exist yet.
	Reset bool `yaml:"reset"`
}

// DropConfig names the file drop directories.
type DropConfig struct {
	CSV    string `yaml:"csv" json:"csv,omitempty"`         // inventory movement exports
	X12    string `yaml:"x12" json:"x12,omitempty"`         // 945, 214 and 846 unless set below
	X12945 string `yaml:"x12_945" json:"x12_945,omitempty"` // overrides x12 for 945s
	X12214 string `yaml:"x12_214" json:"x12_214,omitempty"` // overrides x12 for 214s
	X12846 string `yaml:"x12_846" json:"x12_846,omitempty"` // overrides x12 for 846s
}

func (d DropConfig) dir945() string { return firstNonEmpty(d.X12945, d.X12) }
func (d DropConfig) dir214() string { return firstNonEmpty(d.X12214, d.X12) }
func (d DropConfig) dir846() string { return firstNonEmpty(d.X12846, d.X12) }

// AckDir is where the file-drop connector writes the 997s it answers the
// simulator's X12 interchanges with: 997/ beside the first X12 drop's
// inbox/ ("" without X12 drops). Run creates it with the drops.
func (d DropConfig) AckDir() string {
	x := firstNonEmpty(d.dir945(), d.dir214(), d.dir846())
	if x == "" {
		return ""
	}
	return filepath.Join(filepath.Dir(x), "997")
}

// IntervalConfig holds simulated intervals between files.
type IntervalConfig struct {
	CSV      configfile.Duration `yaml:"csv"`      // movement export, default 15m
	X12945   configfile.Duration `yaml:"x12_945"`  // 945 batch per owner, default 10m
	X12214   configfile.Duration `yaml:"x12_214"`  // 214 batch per carrier and owner, default 30m
	Snapshot configfile.Duration `yaml:"snapshot"` // 846 per owner, default 6h
}

// ProcessConfig holds probabilities (0–1) and the long-transaction delay.
type ProcessConfig struct {
	ShortPick    float64 `yaml:"short_pick"`    // a pick finds less than allocated (stock gone missing), default 0.04
	Damage       float64 `yaml:"damage"`        // a pick finds damaged units, default 0.02
	LineCancel   float64 `yaml:"line_cancel"`   // an order line is cancelled and hard-deleted, default 0.03
	Backorder    float64 `yaml:"backorder"`     // a short line is backordered (945 BP) rather than closed (CP), default 0.4
	Delay        float64 `yaml:"delay"`         // a shipment is delayed en route (214 SD), default 0.15
	LateReport   float64 `yaml:"late_report"`   // a carrier reports a milestone one batch late, default 0.05
	Hold         float64 `yaml:"hold"`          // QC holds per order, default 0.02
	Adjustment   float64 `yaml:"adjustment"`    // found-stock adjustments per order, default 0.03
	Reversal     float64 `yaml:"reversal"`      // an adjustment is reversed (entry error), default 0.3
	Backdated    float64 `yaml:"backdated"`     // a receipt keyed late with an earlier occurred_at, default 0.05
	ShortReceipt float64 `yaml:"short_receipt"` // a receipt line arrives short, default 0.05
	LongTxn      float64 `yaml:"long_txn"`      // a floor transaction commits late, default 0.02
	// LongTxnDelay is how much later, on the technical clock, a long
	// transaction commits than its rows' timestamps say (default 3s).
	LongTxnDelay configfile.Duration `yaml:"long_txn_delay"`
}

// BadConfig holds the share of bad inputs per category; see the package
// documentation for what each category writes and the code it expects.
type BadConfig struct {
	CSVUnknownUnit   float64 `yaml:"csv_unknown_unit"`   // per CSV data row: an extra row with an unknown unit
	CSVBadNumber     float64 `yaml:"csv_bad_number"`     // per CSV data row: an extra row with a malformed quantity
	CSVFieldCount    float64 `yaml:"csv_field_count"`    // per CSV data row: an extra row with a field missing
	CSVBadDate       float64 `yaml:"csv_bad_date"`       // per CSV data row: an extra row with an impossible date
	CSVInvalidUTF8   float64 `yaml:"csv_invalid_utf8"`   // per CSV file: an extra row in Latin-1
	CSVUnclosedQuote float64 `yaml:"csv_unclosed_quote"` // per CSV file: an extra row with an unclosed quote
	X12SECount       float64 `yaml:"x12_se_count"`       // per X12 file: an extra set with a wrong SE01
	X12BadSSCC       float64 `yaml:"x12_bad_sscc"`       // per 945 file: an extra set with an SSCC check digit wrong
	X12Truncated     float64 `yaml:"x12_truncated"`      // per X12 file: an extra truncated file
	DBNullKey        float64 `yaml:"db_null_key"`        // per floor transaction: an extra movement row whose movement_id is NULL
	DBOutOfRange     float64 `yaml:"db_out_of_range"`    // per floor transaction: an extra cycle count with a negative quantity
}

// IdentityConfig holds the source URIs events get (canonical "source").
type IdentityConfig struct {
	DB        string `yaml:"db" json:"db"`                // table and outbox rows, default urn:dray:<site>:wms-db
	CSV       string `yaml:"csv" json:"csv"`              // CSV rows: the file-drop inbox source, default urn:dray:<site>:file:wms
	EDIPrefix string `yaml:"edi_prefix" json:"ediPrefix"` // X12, followed by ISA06; default urn:dray:<site>:edi: (as x12map)
}

// DefaultRoutes is where each canonical event type goes when Config.Routes
// is empty: the resources of the reference ERP and TMS (testenv/refsink)
// that accept it. Types in no list reach no sink.
var DefaultRoutes = map[string][]string{
	"erp": {"inventory.moved", "inventory.status_changed", "inventory.counted", "inventory.snapshot",
		"receipt.completed", "shipment.shipped", "delivery.confirmed"},
	"tms": {"order.received", "order.changed", "shipment.shipped", "shipment.status_changed", "delivery.confirmed"},
}

// LoadConfig reads a YAML configuration strictly, fills defaults and
// validates it, reporting every problem with its path.
func LoadConfig(path string) (Config, error) {
	var c Config
	if err := configfile.Load(path, &c); err != nil {
		return Config{}, err
	}
	return c, nil
}

// SetDefaults fills every unset optional field.
func (c *Config) SetDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defF := func(f *float64, v float64) {
		if *f == 0 {
			*f = v
		}
	}
	defD := func(d *configfile.Duration, v time.Duration) {
		if *d == 0 {
			*d = configfile.Duration(v)
		}
	}
	defI := func(i *int, v int) {
		if *i == 0 {
			*i = v
		}
	}
	def(&c.Site.ID, "MEM1")
	def(&c.Site.Name, "NORTHWIND 3PL MEMPHIS")
	def(&c.Site.TimeZone, "America/Chicago")
	def(&c.Site.GLN, "0614141000104")
	def(&c.Site.EDIID, "NORTHWIND3PL")
	defI(&c.World.Owners, 2)
	defI(&c.World.ItemsPerOwner, 30)
	defI(&c.World.Carriers, 3)
	defI(&c.World.ShipTos, 6)
	def(&c.Start, "2025-03-14T05:00:00")
	defF(&c.Rate, 200)
	defF(&c.Acceleration, 60)
	defD(&c.Intervals.CSV, 15*time.Minute)
	defD(&c.Intervals.X12945, 10*time.Minute)
	defD(&c.Intervals.X12214, 30*time.Minute)
	defD(&c.Intervals.Snapshot, 6*time.Hour)
	p := &c.Process
	defF(&p.ShortPick, 0.04)
	defF(&p.Damage, 0.02)
	defF(&p.LineCancel, 0.03)
	defF(&p.Backorder, 0.4)
	defF(&p.Delay, 0.15)
	defF(&p.LateReport, 0.05)
	defF(&p.Hold, 0.02)
	defF(&p.Adjustment, 0.03)
	defF(&p.Reversal, 0.3)
	defF(&p.Backdated, 0.05)
	defF(&p.ShortReceipt, 0.05)
	defF(&p.LongTxn, 0.02)
	defD(&p.LongTxnDelay, 3*time.Second)
	def(&c.Identity.DB, "urn:dray:"+c.Site.ID+":wms-db")
	def(&c.Identity.CSV, "urn:dray:"+c.Site.ID+":file:wms")
	def(&c.Identity.EDIPrefix, "urn:dray:"+c.Site.ID+":edi:")
	if c.Routes == nil {
		c.Routes = map[string][]string{}
		for k, v := range DefaultRoutes {
			c.Routes[k] = slices.Clone(v)
		}
	}
}

// Validate reports every problem with its path.
func (c *Config) Validate(errs *configfile.Errors) {
	if !canonical.ValidSiteID(c.Site.ID) {
		errs.Add("site.id", "%q is not a site id", c.Site.ID)
	}
	if _, err := localtime.LoadZone(c.Site.TimeZone); err != nil {
		errs.Add("site.time_zone", "%v", err)
	}
	if err := gs1.ValidateGLN(c.Site.GLN); err != nil {
		errs.Add("site.gln", "%v", err)
	}
	if !ediID(c.Site.EDIID) {
		errs.Add("site.edi_id", "%q is not an X12 interchange id (1–15 capitals or digits)", c.Site.EDIID)
	}
	if c.World.Owners < 1 || c.World.Owners > len(ownerTemplates) {
		errs.Add("world.owners", "must be 1 to %d, got %d", len(ownerTemplates), c.World.Owners)
	}
	if c.World.ItemsPerOwner < 3 || c.World.ItemsPerOwner > 900 {
		errs.Add("world.items_per_owner", "must be 3 to 900, got %d", c.World.ItemsPerOwner)
	}
	if c.World.Carriers < 1 || c.World.Carriers > len(carrierTemplates) {
		errs.Add("world.carriers", "must be 1 to %d, got %d", len(carrierTemplates), c.World.Carriers)
	}
	if c.World.ShipTos < 1 || c.World.ShipTos > len(cityTemplates) {
		errs.Add("world.ship_tos", "must be 1 to %d, got %d", len(cityTemplates), c.World.ShipTos)
	}
	if _, err := localtime.ParseWall("2006-01-02T15:04:05", c.Start); err != nil {
		errs.Add("start", "%q is not a local time like 2025-03-14T05:00:00", c.Start)
	}
	if c.Rate <= 0 || c.Rate > 1e6 {
		errs.Add("rate", "must be a positive number of facts per second up to 1e6, got %v", c.Rate)
	}
	if c.Acceleration <= 0 || c.Acceleration > 1e6 {
		errs.Add("acceleration", "must be positive and at most 1e6, got %v", c.Acceleration)
	}
	if c.WallStart != "" {
		if _, err := time.Parse(time.RFC3339, c.WallStart); err != nil {
			errs.Add("wall_start", "%q is not an RFC 3339 time", c.WallStart)
		}
	}
	if c.Stop.Facts < 0 {
		errs.Add("stop.facts", "must not be negative")
	}
	if c.Stop.Duration < 0 {
		errs.Add("stop.duration", "must not be negative")
	}
	if c.Store.SQLite != "" && c.Store.Postgres != "" {
		errs.Add("store", "sqlite and postgres are exclusive")
	}
	if c.Store.Postgres != "" {
		if u, err := url.Parse(c.Store.Postgres); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			if !strings.Contains(c.Store.Postgres, "=") {
				errs.Add("store.postgres", "not a PostgreSQL connection string (URL or key=value)")
			}
		}
	}
	for name, d := range map[string]configfile.Duration{
		"intervals.csv": c.Intervals.CSV, "intervals.x12_945": c.Intervals.X12945,
		"intervals.x12_214": c.Intervals.X12214, "intervals.snapshot": c.Intervals.Snapshot,
	} {
		if d.D() < time.Minute || d.D() > 7*24*time.Hour {
			errs.Add(name, "must be between 1m and 168h, got %s", d.D())
		}
	}
	prob := func(path string, v float64) {
		if v < 0 || v > 1 {
			errs.Add(path, "must be a probability between 0 and 1, got %v", v)
		}
	}
	p := c.Process
	for _, x := range []struct {
		n string
		v float64
	}{{"short_pick", p.ShortPick}, {"damage", p.Damage}, {"line_cancel", p.LineCancel}, {"backorder", p.Backorder},
		{"delay", p.Delay}, {"late_report", p.LateReport}, {"hold", p.Hold}, {"adjustment", p.Adjustment},
		{"reversal", p.Reversal}, {"backdated", p.Backdated}, {"short_receipt", p.ShortReceipt}, {"long_txn", p.LongTxn}} {
		prob("process."+x.n, x.v)
	}
	if p.LongTxnDelay.D() < 0 || p.LongTxnDelay.D() > 10*time.Minute {
		errs.Add("process.long_txn_delay", "must be between 0 and 10m, got %s", p.LongTxnDelay.D())
	}
	b := c.Bad
	for _, x := range []struct {
		n string
		v float64
	}{{"csv_unknown_unit", b.CSVUnknownUnit}, {"csv_bad_number", b.CSVBadNumber}, {"csv_field_count", b.CSVFieldCount},
		{"csv_bad_date", b.CSVBadDate}, {"csv_invalid_utf8", b.CSVInvalidUTF8}, {"csv_unclosed_quote", b.CSVUnclosedQuote},
		{"x12_se_count", b.X12SECount}, {"x12_bad_sscc", b.X12BadSSCC}, {"x12_truncated", b.X12Truncated},
		{"db_null_key", b.DBNullKey}, {"db_out_of_range", b.DBOutOfRange}} {
		prob("bad."+x.n, x.v)
	}
	if c.Truth == "" {
		errs.Add("truth", "required: the ground-truth file")
	}
	for _, x := range []struct{ n, v string }{{"identity.db", c.Identity.DB}, {"identity.csv", c.Identity.CSV}, {"identity.edi_prefix", c.Identity.EDIPrefix + "X"}} {
		if u, err := url.Parse(x.v); err != nil || u.Scheme == "" {
			errs.Add(x.n, "%q is not an absolute URI", x.v)
		}
	}
	for _, sink := range sortedKeys(c.Routes) {
		if sink == "" || sink == "none" {
			errs.Add("routes", "%q is not a sink name", sink)
		}
		for i, t := range c.Routes[sink] {
			if !routeMatchesAny(t) {
				errs.Add(fmt.Sprintf("routes.%s[%d]", sink, i), "%q matches no canonical event type", t)
			}
		}
	}
}

// routeMatchesAny reports whether a route pattern names a canonical type.
func routeMatchesAny(pattern string) bool {
	for _, t := range canonical.TypeNames() {
		if routeMatch(pattern, strings.TrimPrefix(t, "logistics.")) {
			return true
		}
	}
	return false
}

func routeMatch(pattern, typ string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(typ, p)
	}
	return pattern == typ
}

func ediID(s string) bool {
	if s == "" || len(s) > 15 {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

package sql

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/canonical/localtime"
	"github.com/draylink/dray/plugins/sdk"
)

// Config is the connector's block in the agent configuration. doc.go has
// the reference and an example.
type Config struct {
	// SiteID is the site the database belongs to, e.g. "MEM1". Required.
	SiteID string `json:"site_id"`
	// Source is the URI of this source; default "urn:dray:<site_id>:wms-db".
	Source string `json:"source"`
	// SourceSystem names the kind of source in the events; default "wms.db".
	SourceSystem string `json:"source_system"`
	// TimeZone is the site's IANA zone, in which naive local times are
	// resolved. Required.
	TimeZone string `json:"time_zone"`
	// Driver is postgres, mysql (MySQL and MariaDB), sqlite or sqlserver.
	Driver string `json:"driver"`
	// DSN is the data source name. Exactly one of DSN, DSNEnv and DSNFile.
	DSN string `json:"dsn"`
	// DSNEnv names an environment variable holding the DSN.
	DSNEnv string `json:"dsn_env"`
	// DSNFile names a file holding the DSN (trailing newline trimmed).
	DSNFile string `json:"dsn_file"`
	// PollInterval is the pause after a round in which no table had new
	// rows; default 1s.
	PollInterval time.Duration `json:"poll_interval"`
	// BatchSize caps the rows one query returns and one batch carries;
	// default 500.
	BatchSize int `json:"batch_size"`
	// StatementTimeout bounds every query, on the server where the
	// database supports it; default 30s.
	StatementTimeout time.Duration `json:"statement_timeout"`
	// BackoffMin and BackoffMax bound the wait between reconnection
	// attempts (doubling, with jitter); defaults 1s and 1m.
	BackoffMin time.Duration `json:"backoff_min"`
	BackoffMax time.Duration `json:"backoff_max"`
	// Tables are the sources read, in this order each round. Required.
	Tables []TableConfig `json:"tables"`
}

// Modes of a table.
const (
	ModeWatermark  = "watermark"
	ModeOutbox     = "outbox"
	ModeRowversion = "rowversion"
	ModeTombstones = "tombstones"
)

// TableConfig is one source table or query.
type TableConfig struct {
	// Name identifies the source in the cursor and in record keys; it must
	// not change once events were emitted. Required, unique.
	Name string `json:"name"`
	// Mode is watermark, outbox, rowversion (SQL Server) or tombstones.
	Mode string `json:"mode"`
	// Table is the (optionally schema-qualified) table or view to read.
	// Exactly one of Table and Query.
	Table string `json:"table"`
	// Query is a SELECT whose result is read as if it were a table; its
	// output column names are used everywhere a column is named.
	Query string `json:"query"`
	// Key lists the columns of the record key (the primary key). In outbox
	// and tombstones mode, the single increasing integer id (default "id").
	Key []string `json:"key"`
	// Timestamp is the watermark column (watermark mode; required there).
	Timestamp string `json:"timestamp"`
	// Rowversion is the rowversion column (rowversion mode; required there).
	Rowversion string `json:"rowversion"`
	// Version lists the columns that distinguish versions of a record;
	// default the timestamp (watermark) or the rowversion column. Outbox
	// and tombstone rows are immutable and have none.
	Version []string `json:"version"`
	// Clock is the database clock in the timestamp column's terms (default:
	// now() on PostgreSQL, NOW(6) on MySQL, 'now' on SQLite, SYSDATETIME()
	// on SQL Server). See doc.go.
	Clock string `json:"clock"`
	// Lag is the commit-lag window: rows newer than clock − lag are left
	// for a later poll. Make it at least the longest WMS transaction;
	// default 5s.
	Lag time.Duration `json:"lag"`
	// Overlap is the re-scan window behind the watermark for transactions
	// that commit later than Lag allows; default 1m, 0 disables it.
	Overlap time.Duration `json:"overlap"`
	// RescanInterval is how often the overlap window is re-scanned;
	// default 15s.
	RescanInterval time.Duration `json:"rescan_interval"`
	// OverlapMaxRows caps the rows remembered for the overlap window (8
	// bytes each in the cursor); default 1000.
	OverlapMaxRows int `json:"overlap_max_rows"`
	// GapTimeout is how long a missing id of an outbox or tombstone table
	// is waited for (an uncommitted transaction) before it is taken for a
	// rolled-back one; default 1m.
	GapTimeout time.Duration `json:"gap_timeout"`
	// MaxGaps caps the missing ids waited for; default 100.
	MaxGaps int `json:"max_gaps"`

	// EventType, Occurred, Recorded and Fields map each row to an event
	// (watermark and rowversion modes).
	EventType string           `json:"event_type"`
	Occurred  *Field           `json:"occurred"`
	Recorded  *Field           `json:"recorded"`
	Fields    map[string]Field `json:"fields"`

	// TypeColumn is the outbox column naming the kind of row; default
	// "type".
	TypeColumn string `json:"type_column"`
	// Types maps each value of TypeColumn to its event (outbox mode).
	Types map[string]EventMapping `json:"types"`

	// Retracts names the table (by Name) whose deleted rows this tombstone
	// table records (tombstones mode).
	Retracts string `json:"retracts"`
	// RecordKey lists the tombstone columns holding the deleted row's key,
	// in the order of the retracted table's Key.
	RecordKey []string `json:"record_key"`
	// RecordVersion lists the tombstone columns holding the deleted row's
	// last version, in the order of the retracted table's Version.
	RecordVersion []string `json:"record_version"`
	// Reason is the retraction reason; default "deleted_at_source".
	Reason string `json:"reason"`
}

// EventMapping maps a row to one canonical event.
type EventMapping struct {
	// EventType is the canonical type, e.g. "logistics.inventory.moved".
	EventType string `json:"event_type"`
	// Occurred is when it happened (a time field). Required.
	Occurred *Field `json:"occurred"`
	// Recorded is when the source recorded it (optional).
	Recorded *Field `json:"recorded"`
	// Fields maps targets in the event's data ("movement.item.sku", JSON
	// names or proto names) to their values.
	Fields map[string]Field `json:"fields"`
}

// Field says where one value comes from and how it is converted.
type Field struct {
	// Column is the source column. Exactly one of Column and Value.
	Column string `json:"column"`
	// Path is a dotted path into a JSON column (e.g. an outbox payload).
	Path string `json:"path"`
	// Value is a constant.
	Value *string `json:"value"`
	// Default replaces a NULL (or a missing JSON path).
	Default *string `json:"default"`
	// Trim removes leading and trailing spaces (CHAR padding).
	Trim bool `json:"trim"`
	// Map translates the site's codes to canonical ones (enum names such
	// as "pick", unit codes, any string); a value not in the map is
	// rejected as an unknown code.
	Map map[string]string `json:"map"`
	// Time says how a time is read: "instant" (the value carries its
	// offset or is a timestamptz), "local" (a naive wall time at the
	// site, resolved in TimeZone), "utc" (a naive wall time in UTC),
	// "unix" or "unix_ms" (numbers). Required for time targets.
	Time string `json:"time"`
	// Layout is the Go time layout of a time held as text; default
	// RFC 3339 or "2006-01-02 15:04:05" with optional fraction.
	Layout string `json:"layout"`
	// UOM is the unit of a quantity target; Currency the currency of a
	// money target.
	UOM      *Field `json:"uom"`
	Currency *Field `json:"currency"`
	// Split separates the elements of a list target, e.g. ",".
	Split string `json:"split"`
	// ToBase converts a quantity into a base unit through the pack size the
	// row gives; the quantity as read can be kept with Received.
	ToBase *ToBase `json:"to_base"`
	// Received is a second quantity target that gets the quantity as read,
	// before ToBase, e.g. "movement.receivedQuantity".
	Received string `json:"received"`
	// Each fills a list of messages (e.g. "order.lines") from a JSON
	// array: Column (and Path) give the array, one element per entry, and
	// Each maps the targets inside an entry ("lineNumber", "item.sku") to
	// values read by Path from the element (or constants). The array can
	// be an outbox payload's, or a Query's aggregate (json_agg,
	// JSON_ARRAYAGG, json_group_array, FOR JSON).
	Each map[string]Field `json:"each"`
}

// ToBase converts a quantity into a base unit.
type ToBase struct {
	// UOM is the base unit, e.g. "EA".
	UOM string `json:"uom"`
	// QtyInBase is how many base units one unit of the row's quantity
	// holds (e.g. the case size); not needed when the row is already in
	// the base unit or in a measure unit that converts exactly (LBR→KGM).
	QtyInBase *Field `json:"qty_in_base"`
}

// Defaults.
const (
	defaultPollInterval     = time.Second
	defaultBatchSize        = 500
	defaultStatementTimeout = 30 * time.Second
	defaultBackoffMin       = time.Second
	defaultBackoffMax       = time.Minute
	defaultLag              = 5 * time.Second
	defaultOverlap          = time.Minute
	defaultRescanInterval   = 15 * time.Second
	defaultOverlapMaxRows   = 1000
	defaultGapTimeout       = time.Minute
	defaultMaxGaps          = 100

	// cursorBudget is what the configured tables may hold in the cursor
	// (overlap digests, gaps); the agent stores cursors of up to 64 KiB.
	cursorBudget = 48 << 10
)

var (
	identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)
	nameRe  = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
)

func defaultConfig() Config {
	return Config{
		PollInterval:     defaultPollInterval,
		BatchSize:        defaultBatchSize,
		StatementTimeout: defaultStatementTimeout,
		BackoffMin:       defaultBackoffMin,
		BackoffMax:       defaultBackoffMax,
	}
}

// problems collects field errors.
type problems []sdk.FieldError

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, sdk.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// compile checks cfg and turns it into a plan, reporting every problem.
func compile(raw []byte) (*plan, error) {
	cfg := defaultConfig()
	var ps problems = sdk.DecodeConfig(raw, &cfg)
	p := &plan{}
	if !canonical.ValidSiteID(cfg.SiteID) {
		ps.add("site_id", "required: 1 to 32 letters, digits, '_', '.' or '-'")
	}
	if cfg.Source == "" {
		cfg.Source = "urn:dray:" + cfg.SiteID + ":wms-db"
	}
	if cfg.SourceSystem == "" {
		cfg.SourceSystem = "wms.db"
	}
	if loc, err := localtime.LoadZone(cfg.TimeZone); err != nil {
		ps.add("time_zone", "required: an IANA zone such as America/Chicago (%v)", err)
	} else {
		p.loc = loc
	}
	if d, ok := dialectFor(cfg.Driver); ok {
		p.d = d
	} else {
		ps.add("driver", "want one of %s, got %q", strings.Join(Drivers, ", "), cfg.Driver)
	}
	set := 0
	for _, s := range []string{cfg.DSN, cfg.DSNEnv, cfg.DSNFile} {
		if s != "" {
			set++
		}
	}
	switch {
	case set != 1:
		ps.add("dsn", "exactly one of dsn, dsn_env and dsn_file is required")
	case cfg.DSNEnv != "":
		if p.dsn = os.Getenv(cfg.DSNEnv); p.dsn == "" {
			ps.add("dsn_env", "environment variable %s is empty or unset", cfg.DSNEnv)
		}
	case cfg.DSNFile != "":
		b, err := os.ReadFile(cfg.DSNFile)
		if err != nil {
			ps.add("dsn_file", "%v", err)
		}
		if p.dsn = strings.TrimSpace(string(b)); p.dsn == "" && err == nil {
			ps.add("dsn_file", "%s is empty", cfg.DSNFile)
		}
	default:
		p.dsn = cfg.DSN
	}
	between(&ps, "poll_interval", cfg.PollInterval, 10*time.Millisecond, time.Hour)
	between(&ps, "statement_timeout", cfg.StatementTimeout, 100*time.Millisecond, time.Hour)
	between(&ps, "backoff_min", cfg.BackoffMin, 10*time.Millisecond, time.Hour)
	between(&ps, "backoff_max", cfg.BackoffMax, cfg.BackoffMin, time.Hour)
	if cfg.BatchSize < 1 || cfg.BatchSize > 10000 {
		ps.add("batch_size", "must be between 1 and 10000")
	}
	if len(cfg.Tables) == 0 {
		ps.add("tables", "required: at least one table")
	}
	p.cfg = cfg
	p.origin = canonical.Origin{SiteID: cfg.SiteID, Source: cfg.Source, SourceSystem: cfg.SourceSystem}

	names := map[string]int{}
	budget := 0
	for i := range cfg.Tables {
		tc := &p.cfg.Tables[i]
		path := fmt.Sprintf("tables[%d]", i)
		if !nameRe.MatchString(tc.Name) {
			ps.add(path+".name", "required: 1 to 64 letters, digits, '_', '.' or '-'")
		} else if j, dup := names[tc.Name]; dup {
			ps.add(path+".name", "%q is also the name of tables[%d]", tc.Name, j)
		}
		names[tc.Name] = i
		budget += tableDefaults(&ps, path, tc)
	}
	if budget > cursorBudget {
		ps.add("tables", "the tables may keep about %d bytes in the cursor (overlap_max_rows × 11 bytes, max_gaps × 24 bytes); the limit is %d: lower them", budget, cursorBudget)
	}
	// The tables are checked even when the driver or zone is wrong (with
	// stand-ins), so that every problem is reported at once.
	if p.d == nil {
		p.d = postgres{}
	}
	if p.loc == nil {
		p.loc = time.UTC
	}
	for i := range p.cfg.Tables {
		t := newTablePlan(&ps, fmt.Sprintf("tables[%d]", i), p, &p.cfg.Tables[i])
		p.tables = append(p.tables, t)
	}
	// Tombstone tables refer to the tables they retract.
	for i, t := range p.tables {
		if t != nil && t.mode == ModeTombstones {
			linkTombstones(&ps, fmt.Sprintf("tables[%d]", i), p, t)
		}
	}
	if len(ps) > 0 {
		return nil, &sdk.ConfigError{Fields: ps}
	}
	p.eventTypes = eventTypes(p.tables)
	return p, nil
}

func between(ps *problems, path string, d, lo, hi time.Duration) {
	if d < lo || d > hi {
		ps.add(path, "must be between %s and %s, got %s", lo, hi, d)
	}
}

// tableDefaults applies a table's defaults, checks its scalar settings and
// returns the cursor bytes it may need.
func tableDefaults(ps *problems, path string, tc *TableConfig) int {
	if tc.Lag == 0 {
		tc.Lag = defaultLag
	}
	if tc.Overlap == 0 {
		tc.Overlap = defaultOverlap
	}
	if tc.RescanInterval == 0 {
		tc.RescanInterval = defaultRescanInterval
	}
	if tc.OverlapMaxRows == 0 {
		tc.OverlapMaxRows = defaultOverlapMaxRows
	}
	if tc.GapTimeout == 0 {
		tc.GapTimeout = defaultGapTimeout
	}
	if tc.MaxGaps == 0 {
		tc.MaxGaps = defaultMaxGaps
	}
	if tc.TypeColumn == "" {
		tc.TypeColumn = "type"
	}
	if tc.Reason == "" {
		tc.Reason = "deleted_at_source"
	}
	// A negative lag or overlap means none (0 means the default).
	between(ps, path+".lag", tc.Lag, -24*time.Hour, 24*time.Hour)
	between(ps, path+".overlap", tc.Overlap, -24*time.Hour, 24*time.Hour)
	between(ps, path+".rescan_interval", tc.RescanInterval, 10*time.Millisecond, 24*time.Hour)
	between(ps, path+".gap_timeout", tc.GapTimeout, 10*time.Millisecond, 24*time.Hour)
	if tc.OverlapMaxRows < 1 || tc.OverlapMaxRows > 4000 {
		ps.add(path+".overlap_max_rows", "must be between 1 and 4000")
	}
	if tc.MaxGaps < 0 || tc.MaxGaps > 1000 {
		ps.add(path+".max_gaps", "must be between 0 and 1000")
	}
	if len(tc.Reason) > 64 {
		ps.add(path+".reason", "at most 64 bytes")
	}
	switch tc.Mode {
	case ModeWatermark:
		return tc.OverlapMaxRows*11 + 200
	case ModeOutbox, ModeTombstones:
		return tc.MaxGaps*24 + 100
	}
	return 100
}

// checkIdent reports a column name that is not a plain identifier.
func checkIdent(ps *problems, path, name string) bool {
	if !identRe.MatchString(name) {
		ps.add(path, "want a column name (letters, digits, '_', '$'; not starting with a digit), got %q", name)
		return false
	}
	return true
}

func checkTableName(ps *problems, path, name string) {
	for _, part := range strings.Split(name, ".") {
		if !identRe.MatchString(part) {
			ps.add(path, "want a table name such as wms.stock_movements, got %q", name)
			return
		}
	}
}

func checkQuery(ps *problems, path, q string) {
	s := strings.ToUpper(strings.TrimSpace(q))
	if !strings.HasPrefix(s, "SELECT") && !strings.HasPrefix(s, "WITH") {
		ps.add(path, "want a SELECT (or WITH … SELECT) statement")
	}
	if strings.Contains(strings.TrimRight(strings.TrimSpace(q), ";"), ";") {
		ps.add(path, "must be a single statement")
	}
}

func eventTypes(ts []*tablePlan) []string {
	var out []string
	for _, t := range ts {
		for _, m := range t.mappings() {
			if !slices.Contains(out, m.et.Name) {
				out = append(out, m.et.Name)
			}
		}
		if t.mode == ModeTombstones && !slices.Contains(out, retractedType) {
			out = append(out, retractedType)
		}
	}
	slices.Sort(out)
	return out
}

const retractedType = "logistics.event.retracted"

// configure is Configure's body, separate for tests.
func configure(_ context.Context, raw []byte) (*plan, error) { return compile(raw) }

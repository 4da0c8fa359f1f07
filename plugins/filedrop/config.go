package filedrop

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/canonical/gs1"
	"github.com/draylink/dray/canonical/localtime"
	"github.com/draylink/dray/canonical/units"
	"github.com/draylink/dray/plugins/filedrop/csvfile"
	"github.com/draylink/dray/plugins/filedrop/dropdir"
	"github.com/draylink/dray/plugins/filedrop/movement"
	"github.com/draylink/dray/plugins/filedrop/x12map"
	"github.com/draylink/dray/plugins/filedrop/xmlfile"
	"github.com/draylink/dray/plugins/sdk"
)

// Config is the connector's block of the agent configuration; doc.go has
// the reference and an example.
type Config struct {
	SiteID       string                  `json:"site_id"`
	TimeZone     string                  `json:"time_zone"`
	OwnerID      string                  `json:"owner_id"`
	StateDir     string                  `json:"state_dir"`
	PollInterval time.Duration           `json:"poll_interval"`
	BatchSize    int                     `json:"batch_size"`
	MaxFileBytes int64                   `json:"max_file_bytes"`
	DedupWindow  time.Duration           `json:"dedup_window"`
	Watch        *bool                   `json:"watch"`
	Items        []ItemConfig            `json:"items"`
	Units        map[string]string       `json:"units"`
	X12          X12Config               `json:"x12"`
	Inboxes      []InboxConfig           `json:"inboxes"`
	Mappings     map[string]MappingBlock `json:"mappings"`
}

// ItemConfig is one item of the item master.
type ItemConfig struct {
	Owner   string       `json:"owner"`
	SKU     string       `json:"sku"`
	BaseUOM string       `json:"base_uom"`
	Packs   []PackConfig `json:"packs"`
}

// PackConfig is one level of an item's pack hierarchy.
type PackConfig struct {
	UOM       string `json:"uom"`
	GTIN      string `json:"gtin"`
	QtyInBase string `json:"qty_in_base"`
}

// X12Config configures X12 inboxes.
type X12Config struct {
	Partners           map[string]PartnerConfig `json:"partners"`
	CityZones          map[string]string        `json:"city_zones"`
	ChargeCodes        map[string]string        `json:"charge_codes"`
	SKUQualifiers      []string                 `json:"sku_qualifiers"`
	Currency           string                   `json:"currency"`
	SourcePrefix       string                   `json:"source_prefix"`
	Outbox             string                   `json:"outbox"`
	Ack                *bool                    `json:"ack"`
	FirstControlNumber uint64                   `json:"first_control_number"`
}

// PartnerConfig is a trading partner (x12map.Partner).
type PartnerConfig struct {
	OwnerID  string `json:"owner_id"`
	SCAC     string `json:"scac"`
	Name     string `json:"name"`
	TimeZone string `json:"time_zone"`
}

// InboxConfig is one drop directory.
type InboxConfig struct {
	Name         string       `json:"name"`
	Dir          string       `json:"dir"`
	Pattern      string       `json:"pattern"`
	Format       string       `json:"format"`
	Source       string       `json:"source"`
	SourceSystem string       `json:"source_system"`
	Pickup       PickupConfig `json:"pickup"`
	CSV          CSVConfig    `json:"csv"`
	XML          XMLConfig    `json:"xml"`
	// Mapping names an entry of Config.Mappings (CSV and XML inboxes).
	Mapping string `json:"mapping"`
}

// PickupConfig is an inbox's safe-pickup rule.
type PickupConfig struct {
	Mode         string        `json:"mode"`
	MinAge       time.Duration `json:"min_age"`
	StablePolls  int           `json:"stable_polls"`
	MarkerSuffix string        `json:"marker_suffix"`
}

// CSVConfig says how an inbox's CSV files are written.
type CSVConfig struct {
	Delimiter      string              `json:"delimiter"`
	Quote          string              `json:"quote"`
	LazyQuotes     bool                `json:"lazy_quotes"`
	Encoding       string              `json:"encoding"`
	MaxLineBytes   int                 `json:"max_line_bytes"`
	MaxRecordLines int                 `json:"max_record_lines"`
	Columns        map[string][]string `json:"columns"`
}

// XMLConfig says how an inbox's XML files are shaped.
type XMLConfig struct {
	Root           string            `json:"root"`
	Record         string            `json:"record"`
	MaxDepth       int               `json:"max_depth"`
	MaxRecordBytes int               `json:"max_record_bytes"`
	Paths          map[string]string `json:"paths"`
}

// MappingBlock is a movement mapping (movement.Config).
type MappingBlock = movement.Config

// Formats.
const (
	formatAuto  = "auto"
	formatCSV   = "csv"
	formatX12   = "x12"
	formatXML   = "xml"
	formatJSONL = "jsonl"
)

// compiled is a validated configuration, ready to run.
type compiled struct {
	cfg      Config
	zone     *time.Location
	items    map[string]*canonical.Item
	inboxes  []*inbox
	x12      *x12map.Mapper
	ackTime  *clock // the 997 time of the file being mapped
	outbox   string
	ack      bool
	firstCtl uint64
	watch    bool
}

// inbox is one compiled inbox.
type inbox struct {
	name   string
	format string // formatAuto or one format
	dir    *dropdir.Dir
	origin map[string]canonical.Origin // by format
	csv    csvfile.Options
	cols   map[movement.Field][]string // normalized header aliases
	xml    xmlfile.Options
	paths  map[movement.Field]string
	mapper map[string]*movement.Mapper // by format (csv, xml): the mapping with this inbox's origin
}

// compile checks cfg and builds the runtime form, returning every problem.
func compile(cfg Config) (*compiled, []sdk.FieldError) {
	var problems []sdk.FieldError
	bad := func(path, format string, args ...any) {
		problems = append(problems, sdk.FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	c := &compiled{cfg: cfg, items: map[string]*canonical.Item{}, ackTime: &clock{}}
	if !canonical.ValidSiteID(cfg.SiteID) {
		bad("site_id", "required: 1 to 32 letters, digits, '_', '.' or '-'")
	}
	z, err := localtime.LoadZone(cfg.TimeZone)
	if err != nil {
		bad("time_zone", "required: an IANA zone such as America/Chicago (%v)", err)
	}
	c.zone = z
	if cfg.PollInterval < 50*time.Millisecond || cfg.PollInterval > time.Hour {
		bad("poll_interval", "must be between 50ms and 1h")
	}
	if cfg.BatchSize < 1 || cfg.BatchSize > 10000 {
		bad("batch_size", "must be between 1 and 10000")
	}
	if cfg.MaxFileBytes < 1<<10 || cfg.MaxFileBytes > 1<<30 {
		bad("max_file_bytes", "must be between 1 KiB and 1 GiB")
	}
	if cfg.DedupWindow < time.Hour {
		bad("dedup_window", "must be at least 1h (it must outlive the longest outage)")
	}
	c.watch = cfg.Watch == nil || *cfg.Watch

	// Units and items.
	for code, to := range cfg.Units {
		if !units.Known(to) {
			bad("units."+code, "%q is not a UN/ECE Rec 20/21 unit code", to)
		}
	}
	for i, it := range cfg.Items {
		path := fmt.Sprintf("items[%d]", i)
		owner := it.Owner
		if owner == "" {
			owner = cfg.OwnerID
		}
		if owner == "" {
			bad(path+".owner", "required (or set owner_id)")
		}
		if it.SKU == "" {
			bad(path+".sku", "required")
		}
		base, ok := movement.ResolveUnit(it.BaseUOM, cfg.Units)
		if !ok {
			bad(path+".base_uom", "%q is not a known unit", it.BaseUOM)
		}
		item := &canonical.Item{OwnerId: owner, Sku: it.SKU, BaseUom: base}
		for k, p := range it.Packs {
			pp := fmt.Sprintf("%s.packs[%d]", path, k)
			u, ok := movement.ResolveUnit(p.UOM, cfg.Units)
			if !ok {
				bad(pp+".uom", "%q is not a known unit", p.UOM)
			}
			if p.GTIN != "" {
				if err := gs1.ValidateGTIN(p.GTIN); err != nil {
					bad(pp+".gtin", "%v", err)
				}
			}
			if d, err := canonical.ParseDecimal(p.QtyInBase); err != nil || !d.IsPositive() {
				bad(pp+".qty_in_base", "want a positive decimal such as \"12\", got %q", p.QtyInBase)
			}
			item.Packs = append(item.Packs, &canonical.Pack{Uom: u, Gtin: p.GTIN, QtyInBase: p.QtyInBase})
		}
		key := movement.ItemKey(owner, it.SKU)
		if _, dup := c.items[key]; dup {
			bad(path, "item %s/%s is listed twice", owner, it.SKU)
		}
		c.items[key] = item
	}

	// Mappings.
	mappers := map[string]*movement.Mapper{}
	for _, name := range sortedKeys(cfg.Mappings) {
		m, errs := movement.New(cfg.Mappings[name], movement.Site{Zone: c.zone, Owner: cfg.OwnerID, Items: c.items, Units: cfg.Units,
			Origin: canonical.Origin{SiteID: cfg.SiteID}})
		for _, e := range errs {
			bad("mappings."+name+"."+e.Path, "%s", e.Msg)
		}
		mappers[name] = m
	}

	// Inboxes.
	if len(cfg.Inboxes) == 0 {
		bad("inboxes", "required: at least one inbox")
	}
	names := map[string]bool{}
	dirs := map[string]bool{}
	usesX12 := false
	for i, ic := range cfg.Inboxes {
		path := fmt.Sprintf("inboxes[%d]", i)
		ib, x12 := c.compileInbox(path, ic, mappers, bad)
		usesX12 = usesX12 || x12
		if names[ic.Name] {
			bad(path+".name", "%q is used by another inbox", ic.Name)
		}
		names[ic.Name] = true
		if dirs[filepath.Clean(ic.Dir)] {
			bad(path+".dir", "%q is used by another inbox", ic.Dir)
		}
		dirs[filepath.Clean(ic.Dir)] = true
		c.inboxes = append(c.inboxes, ib)
	}
	if cfg.StateDir == "" {
		bad("state_dir", "required: a directory of the connector's own (journal, lock)")
	} else if fi, err := os.Stat(filepath.Dir(filepath.Clean(cfg.StateDir))); err != nil || !fi.IsDir() {
		bad("state_dir", "the parent of %q is not a directory", cfg.StateDir)
	}

	// X12.
	c.ack = cfg.X12.Ack == nil || *cfg.X12.Ack
	c.outbox = cfg.X12.Outbox
	c.firstCtl = cfg.X12.FirstControlNumber
	if c.firstCtl == 0 {
		c.firstCtl = 1
	}
	if c.firstCtl > 999_999_999 {
		bad("x12.first_control_number", "must be 1 to 999999999")
	}
	if usesX12 || len(cfg.X12.Partners) > 0 {
		if c.ack && usesX12 {
			if c.outbox == "" {
				bad("x12.outbox", "required for X12 inboxes: the directory the 997s are written to (or set ack: false)")
			} else if fi, err := os.Stat(c.outbox); err != nil || !fi.IsDir() {
				bad("x12.outbox", "%q is not a directory", c.outbox)
			}
		}
		xc := x12map.Config{SiteID: cfg.SiteID, TimeZone: cfg.TimeZone, SourcePrefix: cfg.X12.SourcePrefix,
			CityZones: cfg.X12.CityZones, SKUQualifiers: cfg.X12.SKUQualifiers, Currency: cfg.X12.Currency,
			Now: c.ackTime.now, SkipAck: !c.ack, Partners: map[string]x12map.Partner{}}
		for id, p := range cfg.X12.Partners {
			xc.Partners[id] = x12map.Partner{OwnerID: p.OwnerID, SCAC: p.SCAC, Name: p.Name, TimeZone: p.TimeZone}
		}
		if cfg.X12.ChargeCodes != nil {
			xc.ChargeCodes = map[string]canonical.ChargeCode{}
			for code, name := range cfg.X12.ChargeCodes {
				v, ok := canonical.ParseEnumName(canonical.ChargeCode(0), name)
				if !ok {
					bad("x12.charge_codes."+code, "%q is not a canonical charge code", name)
				}
				xc.ChargeCodes[code] = v
			}
		}
		m, err := x12map.NewMapper(xc)
		if err != nil {
			bad("x12", "%v", strings.TrimPrefix(err.Error(), "x12map config: "))
		}
		c.x12 = m
	}
	if len(problems) > 0 {
		return nil, problems
	}
	return c, nil
}

// compileInbox compiles one inbox and reports whether it may read X12.
func (c *compiled) compileInbox(path string, ic InboxConfig, mappers map[string]*movement.Mapper, bad func(string, string, ...any)) (*inbox, bool) {
	ib := &inbox{name: ic.Name, format: ic.Format, origin: map[string]canonical.Origin{}}
	if ib.format == "" {
		ib.format = formatAuto
	}
	if !validName(ic.Name) {
		bad(path+".name", "required: 1 to 64 letters, digits, '_', '.' or '-'")
	}
	if ic.Dir == "" {
		bad(path+".dir", "required: the drop root (holding inbox/, work/, archive/, quarantine/)")
	} else if fi, err := os.Stat(ic.Dir); err != nil || !fi.IsDir() {
		bad(path+".dir", "%q is not a directory", ic.Dir)
	}
	if ic.Pattern != "" {
		if _, err := filepath.Match(ic.Pattern, ""); err != nil {
			bad(path+".pattern", "%q is not a valid pattern", ic.Pattern)
		}
	}
	if !slices.Contains([]string{formatAuto, formatCSV, formatX12, formatXML, formatJSONL}, ib.format) {
		bad(path+".format", "want auto, csv, x12, xml or jsonl, got %q", ic.Format)
	}
	mode, ok := dropdir.ParseMode(ic.Pickup.Mode)
	if !ok {
		bad(path+".pickup.mode", "want rename, done_marker or stable, got %q", ic.Pickup.Mode)
	}
	p := dropdir.Pickup{Mode: mode, Pattern: ic.Pattern, MinAge: ic.Pickup.MinAge, StablePolls: ic.Pickup.StablePolls,
		Interval: c.cfg.PollInterval, MarkerSuffix: ic.Pickup.MarkerSuffix}
	if mode == dropdir.Stable && ic.Pickup.MinAge == 0 {
		p.MinAge = 10 * time.Second
	}
	if ic.Pickup.MinAge < 0 || ic.Pickup.StablePolls < 0 || ic.Pickup.StablePolls > 100 {
		bad(path+".pickup", "min_age must not be negative, stable_polls 0 to 100")
	}
	if ic.Pickup.MarkerSuffix != "" && (!strings.HasPrefix(ic.Pickup.MarkerSuffix, ".") || strings.ContainsAny(ic.Pickup.MarkerSuffix, `/\`)) {
		bad(path+".pickup.marker_suffix", "want a suffix such as \".done\"")
	}
	ib.dir = dropdir.New(ic.Dir, p)

	source := ic.Source
	if source == "" {
		source = "urn:dray:" + c.cfg.SiteID + ":file:" + ic.Name
	}
	if u, err := url.Parse(source); err != nil || u.Scheme == "" {
		bad(path+".source", "%q is not an absolute URI", source)
	}
	for _, f := range []string{formatCSV, formatXML, formatJSONL} {
		sys := ic.SourceSystem
		if sys == "" {
			sys = "file." + f
		}
		ib.origin[f] = canonical.Origin{SiteID: c.cfg.SiteID, Source: source, SourceSystem: sys}
	}

	// The movement mapping of CSV and XML files.
	switch {
	case ic.Mapping != "":
		m, ok := mappers[ic.Mapping]
		if !ok {
			bad(path+".mapping", "%q is not in mappings", ic.Mapping)
		} else if m != nil {
			ib.mapper = map[string]*movement.Mapper{
				formatCSV: m.WithOrigin(ib.origin[formatCSV]),
				formatXML: m.WithOrigin(ib.origin[formatXML]),
			}
		}
	case ib.format == formatCSV || ib.format == formatXML:
		bad(path+".mapping", "required for %s inboxes: the name of an entry of mappings", ib.format)
	}

	// CSV.
	o := csvfile.Options{LazyQuotes: ic.CSV.LazyQuotes, MaxLineBytes: ic.CSV.MaxLineBytes, MaxRecordLines: ic.CSV.MaxRecordLines}
	switch d := unescape(ic.CSV.Delimiter); len(d) {
	case 0:
	case 1:
		o.Comma = d[0]
	default:
		bad(path+".csv.delimiter", "want one character such as \",\", \";\", \"\\t\" or \"|\", got %q", ic.CSV.Delimiter)
	}
	switch q := ic.CSV.Quote; {
	case q == "none":
		o.NoQuote = true
	case len(q) == 1:
		o.Quote = q[0]
	case q != "":
		bad(path+".csv.quote", "want one character, or \"none\"")
	}
	switch strings.ToLower(ic.CSV.Encoding) {
	case "", "utf-8", "utf8":
	case "iso-8859-1", "latin1", "latin-1":
		o.Encoding = csvfile.Latin1
	default:
		bad(path+".csv.encoding", "want utf-8 or iso-8859-1, got %q", ic.CSV.Encoding)
	}
	if err := o.Check(); err != nil {
		bad(path+".csv", "%v", err)
	}
	if o.MaxLineBytes < 0 || o.MaxLineBytes > 64<<20 {
		bad(path+".csv.max_line_bytes", "must be at most 64 MiB")
	}
	ib.csv = o
	ib.cols = map[movement.Field][]string{}
	for f := movement.Field(0); f < movement.NumFields; f++ {
		ib.cols[f] = []string{normHeader(f.String())}
	}
	for name, aliases := range ic.CSV.Columns {
		f, ok := movement.FieldByName(name)
		if !ok {
			bad(path+".csv.columns."+name, "not a field (%s)", strings.Join(movement.FieldNames(), ", "))
			continue
		}
		if len(aliases) == 0 {
			bad(path+".csv.columns."+name, "list at least one column name")
		}
		var norm []string
		for _, a := range aliases {
			norm = append(norm, normHeader(a))
		}
		ib.cols[f] = norm
	}

	// XML.
	ib.xml = xmlfile.Options{Root: ic.XML.Root, Record: ic.XML.Record, MaxDepth: ic.XML.MaxDepth, MaxRecordBytes: ic.XML.MaxRecordBytes}
	ib.paths = map[movement.Field]string{}
	for name, p := range ic.XML.Paths {
		f, ok := movement.FieldByName(name)
		if !ok {
			bad(path+".xml.paths."+name, "not a field (%s)", strings.Join(movement.FieldNames(), ", "))
			continue
		}
		ib.paths[f] = p
	}
	if ib.format == formatXML || (ib.format == formatAuto && (ic.XML.Root != "" || len(ic.XML.Paths) > 0)) {
		if ic.XML.Root == "" || ic.XML.Record == "" {
			bad(path+".xml", "root and record are required")
		}
		if ib.mapper != nil {
			for _, f := range movement.Required {
				if _, ok := ib.paths[f]; !ok && !ib.mapper[formatXML].Derived(f) {
					bad(path+".xml.paths", "%s is required (a path, or an extract or default in the mapping)", f)
				}
			}
		}
	}
	if ic.XML.MaxDepth < 0 || ic.XML.MaxDepth > 256 {
		bad(path+".xml.max_depth", "must be 0 (default 32) to 256")
	}
	return ib, ib.format == formatAuto || ib.format == formatX12
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
		default:
			return false
		}
	}
	return true
}

// normHeader normalizes a header or alias: trimmed, lower case.
func normHeader(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// unescape turns "\t" into a tab, for delimiters written in YAML.
func unescape(s string) string {
	if s == `\t` || s == "tab" {
		return "\t"
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

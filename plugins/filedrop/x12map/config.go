package x12map

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/canonical/codes"
	"github.com/draylink/dray/canonical/localtime"
)

// Config says how one site's X12 files become events. The zero value of
// every optional field has a documented default; Validate reports every
// problem at once.
type Config struct {
	// SiteID is the site the agent runs at, e.g. "MEM1". Required.
	SiteID string
	// TimeZone is the site's IANA zone, e.g. "America/Chicago". Required.
	// It is the zone of local (LT or uncoded) times in the warehouse's own
	// documents (940, 943, 944, 945, 846, 856) unless the sending partner
	// has a TimeZone of its own.
	TimeZone string
	// SourcePrefix starts every event's source; the ISA06 sender id
	// (path-escaped) ends it. Default "urn:dray:<SiteID>:edi:", giving
	// e.g. "urn:dray:MEM1:edi:XMPL".
	SourcePrefix string
	// Partners describes trading partners by their ISA06/ISA08 interchange
	// id or GS02/GS03 application code, e.g. "ACMEFOODS" or "XMPL".
	Partners map[string]Partner
	// CityZones overrides the built-in state/province zone table for
	// places in a state's minority zone or outside the US and Canada. Keys
	// are "CITY,REGION,COUNTRY" or "CITY,REGION" in capitals, e.g.
	// "KNOXVILLE,TN": "America/New_York". They take precedence over the
	// built-in city list.
	CityZones map[string]string
	// ChargeCodes maps 210 L1-08 special charge codes to canonical charge
	// codes. Nil means DefaultChargeCodes; a non-nil map replaces it
	// entirely (copy DefaultChargeCodes to extend it). An L1 whose code is
	// not in the map is rejected, never guessed.
	ChargeCodes map[string]canonical.ChargeCode
	// SKUQualifiers are the product id qualifiers (element 235) whose id is
	// the item's SKU, in order of preference. Default: VN (vendor's item
	// number), SK (stock keeping unit), BP (buyer's part number), IN
	// (buyer's item number).
	SKUQualifiers []string
	// Currency is the ISO 4217 currency of 204 and 210 amounts when the
	// document has no C3 segment. Default "USD".
	Currency string
	// Now gives the time of the 997 the site sends (Result.Ack). Default time.Now.
	Now func() time.Time
	// SkipAck leaves Result.Ack nil, for partners that want no 997.
	SkipAck bool
}

// Partner is what the site knows about one trading partner.
type Partner struct {
	// OwnerID is the canonical owner (depositor) id for the goods this
	// partner's documents are about, e.g. "ACME". Warehouse documents
	// (940, 943, 944, 945, 846, 856) take their owner from the partner
	// among sender and receiver that has one.
	OwnerID string
	// SCAC marks the partner as a carrier with this SCAC; 204, 210 and 214
	// documents that name no SCAC fall back to it.
	SCAC string
	// Name is the partner's name, used as the carrier name when a document
	// names a carrier by SCAC only.
	Name string
	// TimeZone is the IANA zone of the partner's own clock: GS times of
	// its documents, and local times in warehouse documents it sends.
	// Default: the site's zone.
	TimeZone string
}

// DefaultChargeCodes maps the 210 L1-08 codes (X12 element 150) dray knows
// without configuration.
var DefaultChargeCodes = map[string]canonical.ChargeCode{
	"400": canonical.ChargeCode_CHARGE_CODE_LINEHAUL,       // Freight
	"405": canonical.ChargeCode_CHARGE_CODE_FUEL_SURCHARGE, // Fuel Surcharge
	"FUE": canonical.ChargeCode_CHARGE_CODE_FUEL_SURCHARGE, // Fuel Charge
	"DET": canonical.ChargeCode_CHARGE_CODE_DETENTION,      // Detention
	"HAZ": canonical.ChargeCode_CHARGE_CODE_HAZMAT,         // Hazardous Cargo Charge
	"LFT": canonical.ChargeCode_CHARGE_CODE_LIFTGATE,       // Lift Gate
	"RES": canonical.ChargeCode_CHARGE_CODE_RESIDENTIAL,    // Residential Delivery
	"IDL": canonical.ChargeCode_CHARGE_CODE_INSIDE_DELIVERY,
}

var defaultSKUQualifiers = []string{"VN", "SK", "BP", "IN"}

// Validate checks the configuration and returns every problem, each
// prefixed with its field path.
func (c Config) Validate() error {
	_, err := compile(c)
	return err
}

// Mapper is a compiled Config; it is safe for concurrent use.
type Mapper struct {
	cfg       Config
	site      *time.Location
	partners  map[string]partner
	scacNames map[string]string // SCAC → name, from Partners
	cityZones map[string]*time.Location
	charges   map[string]canonical.ChargeCode
	skuQuals  []string
	currency  string
	prefix    string
	now       func() time.Time
}

type partner struct {
	Partner
	loc *time.Location // nil: the site's zone
}

// NewMapper validates cfg and prepares it for Map; a connector builds one
// Mapper and reuses it for every file.
func NewMapper(cfg Config) (*Mapper, error) { return compile(cfg) }

func compile(c Config) (*Mapper, error) {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	m := &Mapper{cfg: c, partners: map[string]partner{}, scacNames: map[string]string{}, cityZones: map[string]*time.Location{},
		charges: c.ChargeCodes, skuQuals: c.SKUQualifiers, currency: c.Currency, prefix: c.SourcePrefix, now: c.Now}
	if !canonical.ValidSiteID(c.SiteID) {
		bad("siteId", "%q is not a site id", c.SiteID)
	}
	loc, err := localtime.LoadZone(c.TimeZone)
	if err != nil {
		bad("timeZone", "%v", err)
	}
	m.site = loc
	if m.prefix == "" {
		m.prefix = "urn:dray:" + c.SiteID + ":edi:"
	}
	if u, err := url.Parse(m.prefix + "X"); err != nil || u.Scheme == "" {
		bad("sourcePrefix", "%q does not make an absolute URI", m.prefix)
	}
	for _, id := range sortedKeys(c.Partners) {
		p := c.Partners[id]
		path := "partners." + id
		if id == "" || strings.TrimSpace(id) != id {
			bad(path, "a partner id must be non-empty without surrounding spaces")
		}
		if p.SCAC != "" && !codes.ValidSCAC(p.SCAC) {
			bad(path+".scac", "%q is not a SCAC", p.SCAC)
		}
		pp := partner{Partner: p}
		if p.TimeZone != "" {
			if pp.loc, err = localtime.LoadZone(p.TimeZone); err != nil {
				bad(path+".timeZone", "%v", err)
			}
		}
		m.partners[id] = pp
		if p.SCAC != "" && p.Name != "" {
			if prev, ok := m.scacNames[p.SCAC]; ok && prev != p.Name {
				bad(path+".name", "SCAC %s is also named %q", p.SCAC, prev)
			}
			m.scacNames[p.SCAC] = p.Name
		}
	}
	for _, k := range sortedKeys(c.CityZones) {
		parts := strings.Split(k, ",")
		if len(parts) < 2 || len(parts) > 3 || k != strings.ToUpper(k) {
			bad("cityZones."+k, `want "CITY,REGION" or "CITY,REGION,COUNTRY" in capitals`)
			continue
		}
		z, err := localtime.LoadZone(c.CityZones[k])
		if err != nil {
			bad("cityZones."+k, "%v", err)
			continue
		}
		m.cityZones[k] = z
	}
	if m.charges == nil {
		m.charges = DefaultChargeCodes
	}
	for _, k := range sortedKeys(m.charges) {
		if v := m.charges[k]; v == canonical.ChargeCode_CHARGE_CODE_UNSPECIFIED || canonical.EnumName(v) == "" {
			bad("chargeCodes."+k, "maps to no charge code")
		}
	}
	if m.skuQuals == nil {
		m.skuQuals = defaultSKUQualifiers
	}
	if m.currency == "" {
		m.currency = "USD"
	}
	if !codes.ValidCurrency(m.currency) {
		bad("currency", "%q is not an ISO 4217 currency", m.currency)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("x12map config: %w", errors.Join(errs...))
	}
	return m, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

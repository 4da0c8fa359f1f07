package wmssim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/canonical/gs1"
	"github.com/draylink/dray/canonical/localtime"
	"github.com/draylink/dray/canonical/units"
)

// World is the seeded master data of one site: owners (depositors) with
// their items and delivery points, locations, carriers and suppliers. The
// same seed and WorldConfig give the same world.
type World struct {
	Site      Site
	Owners    []*Owner
	Locations []*Location
	Carriers  []*Carrier
	Suppliers []*Party

	byCode                    map[string]*Location
	reserve                   []*Location // storage locations, for putaway
	doors, docksIn, stageOut  []*Location
	recvStage, qaHold, damage *Location
}

// Site is the warehouse.
type Site struct {
	ID, Name, GLN, EDIID, TimeZone string
	City, Region, Postal, Country  string
	Address                        string
	Loc                            *time.Location
}

// Owner is a depositor whose goods the site holds (a 3PL customer).
type Owner struct {
	ID        string // canonical owner id, e.g. "ACME"
	Name      string // e.g. "ACME FOODS INC"
	EDIID     string // its X12 interchange id, e.g. "ACMEFOODS"
	GLN       string
	Prefix    string // GS1 company prefix (7 digits)
	SKUPrefix string // e.g. "AF-"
	Items     []*Item
	ShipTos   []*Party
	Retailer  string // the ship-to company name
}

// Item is a SKU of an owner with its pack hierarchy.
type Item struct {
	Owner       *Owner
	SKU         string
	Description string
	Kind        ItemKind
	BaseUOM     string // X12 code of the base unit: EA or KG
	Packs       []Pack // base first, then larger levels
	Lot         bool   // lot controlled
	Expiry      bool   // expiry controlled (implies Lot)
	ShelfDays   int
	WeightKG    float64 // per base unit
	PickFace    *Location
	OrderUOM    *Pack // the unit orders and picks use
	ReceiveUOM  *Pack // the unit receipts usually use

	demand float64 // expected base milli-units per simulated second
}

// ItemKind is how an item is handled.
type ItemKind int

// Item kinds.
const (
	KindCase ItemKind = iota // ordered and picked in cases
	KindEach                 // ordered and picked in eaches from a pick face
	KindBulk                 // weighed, ordered in kilograms
)

// Pack is one level of an item's pack hierarchy.
type Pack struct {
	UOM       string // X12 unit (355) as the WMS writes it: EA, CA, PL, KG
	GTIN      string // GTIN-14
	QtyInBase int64  // base milli-units per one unit of this pack
}

// Pack returns the pack level with the given unit, or nil.
func (it *Item) Pack(uom string) *Pack {
	for i := range it.Packs {
		if it.Packs[i].UOM == uom {
			return &it.Packs[i]
		}
	}
	return nil
}

// Location is a place in the site.
type Location struct {
	Code string
	Type string // dock, storage, pick_face, staging, hold, damage
	Zone string // area label
}

// Carrier is a motor carrier.
type Carrier struct {
	SCAC, Name string
	Mode       string // X12 W27-05 style: TL or LT
}

// Party is a delivery point or supplier.
type Party struct {
	ID, Name, GLN        string
	Street               string
	City, Region, Postal string
	Country              string
	Zone                 string        // IANA zone of the place
	Transit              time.Duration // typical drive from the site
	Waypoint             [3]string     // city, state and zone of a place on the way, for delay reports
	Prefix               string        // suppliers: GS1 company prefix for their SSCCs
}

var ownerTemplates = []struct {
	id, name, edi, prefix, sku, retailer string
	words                                []string
}{
	{"ACME", "ACME FOODS INC", "ACMEFOODS", "0614141", "AF-", "ACME RETAIL",
		[]string{"RICE", "BEANS", "PASTA", "FLOUR", "OATS", "TOMATOES", "LENTILS", "SUGAR", "COFFEE", "TEA", "SOUP", "CEREAL"}},
	{"BOLT", "BOLT BEVERAGE CO", "BOLTBEV", "0614142", "BV-", "QUIKMART",
		[]string{"COLA", "LEMONADE", "ICED TEA", "SPARKLING WATER", "ENERGY DRINK", "ORANGE JUICE", "ROOT BEER", "GINGER ALE"}},
	{"CRSP", "CRISP SNACKS LLC", "CRISPSNACKS", "0614143", "CS-", "VALUEWAY",
		[]string{"POTATO CHIPS", "PRETZELS", "POPCORN", "TORTILLA CHIPS", "CRACKERS", "NUT MIX", "CHEESE PUFFS", "RICE CAKES"}},
	{"DLTA", "DELTA HOME GOODS", "DELTAHOME", "0614144", "DH-", "HOMEPLUS",
		[]string{"TOWELS", "SPONGES", "DETERGENT", "TRASH BAGS", "LIGHT BULBS", "BATTERIES", "CANDLES", "STORAGE BINS"}},
}

var carrierTemplates = []Carrier{
	{"XMPL", "XAMPLE FREIGHT LINES", "TL"},
	{"BLHL", "BLUEGRASS HAULING", "TL"},
	{"RVLN", "RIVERLINE TRANSPORT", "LT"},
	{"CRDX", "CARDINAL EXPRESS", "LT"},
	{"PNTF", "PINE TREE FREIGHT", "TL"},
}

// cityTemplates are delivery points: zones agree with x12map's tables, so
// local times at the stop resolve the same way there.
var cityTemplates = []struct {
	city, region, postal, zone, street string
	transitH                           int
	way                                [3]string
}{
	{"ATLANTA", "GA", "30336", "America/New_York", "2200 DISTRIBUTION PKWY", 7, [3]string{"BIRMINGHAM", "AL", "America/Chicago"}},
	{"DALLAS", "TX", "75241", "America/Chicago", "4100 LOGISTICS DR", 8, [3]string{"LITTLE ROCK", "AR", "America/Chicago"}},
	{"CHICAGO", "IL", "60638", "America/Chicago", "6500 W 65TH ST", 9, [3]string{"ST LOUIS", "MO", "America/Chicago"}},
	{"CHARLOTTE", "NC", "28214", "America/New_York", "9800 OLD DOWD RD", 10, [3]string{"NASHVILLE", "TN", "America/Chicago"}},
	{"COLUMBUS", "OH", "43217", "America/New_York", "2500 ROHR RD", 9, [3]string{"LOUISVILLE", "KY", "America/New_York"}},
	{"KANSAS CITY", "MO", "64161", "America/Chicago", "8800 NE PARVIN RD", 8, [3]string{"SPRINGFIELD", "MO", "America/Chicago"}},
	{"DENVER", "CO", "80239", "America/Denver", "5300 N HIMALAYA RD", 16, [3]string{"WICHITA", "KS", "America/Chicago"}},
	{"PHOENIX", "AZ", "85043", "America/Phoenix", "7400 W BUCKEYE RD", 22, [3]string{"ALBUQUERQUE", "NM", "America/Denver"}},
	{"HOUSTON", "TX", "77032", "America/Chicago", "15600 JFK BLVD", 9, [3]string{"SHREVEPORT", "LA", "America/Chicago"}},
	{"ORLANDO", "FL", "32824", "America/New_York", "1900 TRADEPORT DR", 13, [3]string{"MONTGOMERY", "AL", "America/Chicago"}},
	{"INDIANAPOLIS", "IN", "46241", "America/Indiana/Indianapolis", "3400 S HIGH SCHOOL RD", 7, [3]string{"EVANSVILLE", "IN", "America/Chicago"}},
	{"NASHVILLE", "TN", "37211", "America/Chicago", "1100 ANTIOCH PIKE", 3, [3]string{"JACKSON", "TN", "America/Chicago"}},
	{"SALT LAKE CITY", "UT", "84104", "America/Denver", "1300 S 4800 W", 26, [3]string{"CHEYENNE", "WY", "America/Denver"}},
	{"OKLAHOMA CITY", "OK", "73179", "America/Chicago", "6200 SW 29TH ST", 7, [3]string{"FORT SMITH", "AR", "America/Chicago"}},
}

var supplierTemplates = []struct{ id, name, prefix string }{
	{"SUP-PACKCO", "PACKCO MANUFACTURING", "0312345"},
	{"SUP-GRAINS", "MIDSOUTH GRAINS", "0398765"},
	{"SUP-BOTTLR", "RIVER CITY BOTTLERS", "0367890"},
	{"SUP-HOMEFX", "HOMEFIX SUPPLY", "0354321"},
}

var users = []string{"rkhan", "tnguyen", "jdiaz", "amoore", "ssingh", "lwright", "mperez", "kchen", "bokafor", "dsmith"}

var podNames = []string{"M OKAFOR", "J SMITH", "L GARCIA", "R PATEL", "T JOHNSON", "A KOWALSKI", "D NGUYEN", "S BROWN", "K WILLIAMS", "P ROSSI"}

// NewWorld builds the world of a configuration (SetDefaults applied).
func NewWorld(cfg *Config) (*World, error) {
	loc, err := localtime.LoadZone(cfg.Site.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("site zone: %w", err)
	}
	r := newRand(cfg.Seed, "world")
	w := &World{
		Site: Site{ID: cfg.Site.ID, Name: cfg.Site.Name, GLN: cfg.Site.GLN, EDIID: cfg.Site.EDIID, TimeZone: cfg.Site.TimeZone,
			City: "MEMPHIS", Region: "TN", Postal: "38118", Country: "US", Address: "3900 AIRWAYS BLVD", Loc: loc},
		byCode: map[string]*Location{},
	}
	addLoc := func(code, typ, zone string) *Location {
		l := &Location{Code: code, Type: typ, Zone: zone}
		w.Locations = append(w.Locations, l)
		w.byCode[code] = l
		return l
	}
	for i := 1; i <= 4; i++ {
		w.docksIn = append(w.docksIn, addLoc(fmt.Sprintf("DOCK-IN-%02d", i), "dock", "INBOUND"))
	}
	for i := 1; i <= 8; i++ {
		w.doors = append(w.doors, addLoc(fmt.Sprintf("DOOR-%02d", i), "dock", "OUTBOUND"))
	}
	w.recvStage = addLoc("RECV-STAGE-01", "staging", "INBOUND")
	for i := 1; i <= 8; i++ {
		w.stageOut = append(w.stageOut, addLoc(fmt.Sprintf("STAGE-OUT-%02d", i), "staging", "OUTBOUND"))
	}
	w.qaHold = addLoc("QA-HOLD-01", "hold", "QA")
	w.damage = addLoc("DMG-01", "damage", "QA")

	for i := 0; i < cfg.World.Carriers; i++ {
		c := carrierTemplates[i]
		w.Carriers = append(w.Carriers, &c)
	}
	for _, s := range supplierTemplates {
		w.Suppliers = append(w.Suppliers, &Party{ID: s.id, Name: s.name, Prefix: s.prefix, Country: "US"})
	}

	aisleA, aislePF, bulk := 1, 1, 1
	for oi := 0; oi < cfg.World.Owners; oi++ {
		t := ownerTemplates[oi]
		o := &Owner{ID: t.id, Name: t.name, EDIID: t.edi, Prefix: t.prefix, SKUPrefix: t.sku, Retailer: t.retailer}
		o.GLN = mustAppend(t.prefix + "00001")
		cities, dcs := r.Perm(len(cityTemplates)), r.Perm(40)
		for si := 0; si < cfg.World.ShipTos; si++ {
			c := cityTemplates[cities[si]]
			dc := 2 + dcs[si]
			o.ShipTos = append(o.ShipTos, &Party{
				ID: fmt.Sprintf("%s-DC%02d", o.ID, dc), Name: fmt.Sprintf("%s DC %d", t.retailer, dc),
				GLN: mustAppend(t.prefix + fmt.Sprintf("%05d", 200+si)), Street: c.street,
				City: c.city, Region: c.region, Postal: c.postal, Country: "US", Zone: c.zone,
				Transit: time.Duration(c.transitH) * time.Hour, Waypoint: c.way,
			})
		}
		nCase, nEach := cfg.World.ItemsPerOwner*6/10, cfg.World.ItemsPerOwner*3/10
		nBulk := cfg.World.ItemsPerOwner - nCase - nEach
		for k := 0; k < cfg.World.ItemsPerOwner; k++ {
			var it *Item
			switch {
			case k < nCase:
				it = caseItem(r, o, 1001+k)
				it.PickFace = addLoc(fmt.Sprintf("A-%02d-%02d-%c", aisleA/12+1, aisleA%12+1, 'A'+rune(k%4)), "pick_face", "CASE")
				aisleA++
			case k < nCase+nEach:
				it = eachItem(r, o, 2001+k-nCase)
				it.PickFace = addLoc(fmt.Sprintf("PF-%02d-%02d", aislePF/20+1, aislePF%20+1), "pick_face", "EACH")
				aislePF++
			default:
				it = bulkItem(r, o, 3001+k-nCase-nEach)
				it.PickFace = addLoc(fmt.Sprintf("BULK-%02d", bulk), "pick_face", "BULK")
				bulk++
			}
			it.Description = t.words[k%len(t.words)] + " " + descSuffix[(k/len(t.words))%len(descSuffix)]
			o.Items = append(o.Items, it)
		}
		_ = nBulk
		w.Owners = append(w.Owners, o)
	}
	nReserve := 12 + cfg.World.Owners*cfg.World.ItemsPerOwner/2
	for i := 0; i < nReserve; i++ {
		w.reserve = append(w.reserve, addLoc(fmt.Sprintf("R-%02d-%02d-%c", 40+i/30, i%30/3+1, 'A'+rune(i%3)), "storage", "RESERVE"))
	}
	return w, nil
}

var descSuffix = []string{"12X1LB", "24X12OZ", "6X5LB", "CLASSIC", "FAMILY SIZE", "VALUE PACK", "ORGANIC", "LOW SODIUM"}

func caseItem(r *rand.Rand, o *Owner, n int) *Item {
	perCase := []int64{6, 8, 12, 24}[r.IntN(4)]
	casesPerPallet := int64(30 + 10*r.IntN(6))
	it := &Item{Owner: o, SKU: fmt.Sprintf("%s%d", o.SKUPrefix, n), Kind: KindCase, BaseUOM: "EA",
		WeightKG: 0.4 + float64(r.IntN(20))/10}
	it.Lot = r.IntN(3) > 0
	it.Expiry = it.Lot
	it.ShelfDays = 180 + 30*r.IntN(12)
	ref := fmt.Sprintf("%05d", n)
	it.Packs = []Pack{
		{UOM: "EA", GTIN: gtin14("0", o.Prefix, ref), QtyInBase: 1000},
		{UOM: "CA", GTIN: gtin14("1", o.Prefix, ref), QtyInBase: perCase * 1000},
		{UOM: "PL", GTIN: gtin14("5", o.Prefix, ref), QtyInBase: perCase * casesPerPallet * 1000},
	}
	it.OrderUOM, it.ReceiveUOM = &it.Packs[1], &it.Packs[2]
	return it
}

func eachItem(r *rand.Rand, o *Owner, n int) *Item {
	perCase := []int64{12, 24, 48}[r.IntN(3)]
	it := &Item{Owner: o, SKU: fmt.Sprintf("%s%d", o.SKUPrefix, n), Kind: KindEach, BaseUOM: "EA",
		WeightKG: 0.1 + float64(r.IntN(10))/10}
	it.Lot = r.IntN(4) == 0
	it.Expiry = false
	ref := fmt.Sprintf("%05d", n)
	it.Packs = []Pack{
		{UOM: "EA", GTIN: gtin14("0", o.Prefix, ref), QtyInBase: 1000},
		{UOM: "CA", GTIN: gtin14("1", o.Prefix, ref), QtyInBase: perCase * 1000},
		{UOM: "PL", GTIN: gtin14("5", o.Prefix, ref), QtyInBase: perCase * 40 * 1000},
	}
	it.OrderUOM, it.ReceiveUOM = &it.Packs[0], &it.Packs[1]
	return it
}

func bulkItem(r *rand.Rand, o *Owner, n int) *Item {
	it := &Item{Owner: o, SKU: fmt.Sprintf("%s%d", o.SKUPrefix, n), Kind: KindBulk, BaseUOM: "KG", WeightKG: 1,
		Lot: true, Expiry: true, ShelfDays: 365 + 30*r.IntN(6)}
	ref := fmt.Sprintf("%05d", n)
	it.Packs = []Pack{{UOM: "KG", GTIN: gtin14("0", o.Prefix, ref), QtyInBase: 1000}}
	it.OrderUOM, it.ReceiveUOM = &it.Packs[0], &it.Packs[0]
	return it
}

// gtin14 builds a GTIN-14: indicator, company prefix, item reference,
// check digit.
func gtin14(indicator, prefix, ref string) string { return mustAppend(indicator + prefix + ref) }

func mustAppend(payload string) string {
	s, err := gs1.Append(payload)
	if err != nil {
		panic("wmssim: " + err.Error())
	}
	return s
}

// Location returns the location with the code, or nil.
func (w *World) Location(code string) *Location { return w.byCode[code] }

// Items returns every item of every owner, in owner then SKU order.
func (w *World) Items() []*Item {
	var out []*Item
	for _, o := range w.Owners {
		out = append(out, o.Items...)
	}
	return out
}

// Partner is what a connector needs to know about one X12 trading partner
// of the simulated site (x12map.Partner, without importing it).
type Partner struct {
	// ID is the ISA06/ISA08 interchange id.
	ID      string `json:"id"`
	OwnerID string `json:"ownerId,omitempty"`
	SCAC    string `json:"scac,omitempty"`
	Name    string `json:"name"`
}

// Partners lists the X12 trading partners: each owner (by its
// interchange id, with its owner id) and each carrier (by SCAC).
func (w *World) Partners() []Partner {
	var out []Partner
	for _, o := range w.Owners {
		out = append(out, Partner{ID: o.EDIID, OwnerID: o.ID, Name: o.Name})
	}
	for _, c := range w.Carriers {
		out = append(out, Partner{ID: c.SCAC, SCAC: c.SCAC, Name: c.Name})
	}
	return out
}

// CanonicalItems is the item master as canonical items (units as UN/ECE
// Rec 20/21 codes), e.g. for a connector's configuration.
func (w *World) CanonicalItems() []*canonical.Item {
	var out []*canonical.Item
	for _, it := range w.Items() {
		ci := &canonical.Item{OwnerId: it.Owner.ID, Sku: it.SKU, Description: it.Description, BaseUom: rec20(it.BaseUOM),
			LotControlled: it.Lot, ExpiryControlled: it.Expiry}
		for _, p := range it.Packs {
			ci.Packs = append(ci.Packs, &canonical.Pack{Uom: rec20(p.UOM), Gtin: p.GTIN, QtyInBase: fmtQty(p.QtyInBase, it.BaseUOM)})
		}
		out = append(out, ci)
	}
	return out
}

// rec20 maps the WMS's X12 unit codes to UN/ECE codes.
func rec20(x12 string) string {
	if u, ok := units.FromX12(x12); ok {
		return u
	}
	return x12
}

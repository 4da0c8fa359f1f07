package x12map

import (
	"fmt"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/canonical/gs1"
	"github.com/draylink/dray/canonical/localtime"
	"github.com/draylink/dray/canonical/units"
	"github.com/draylink/dray/plugins/filedrop/x12"
	"github.com/shopspring/decimal"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// num reads an X12 R (decimal) element; ok is false (and the problem
// recorded) when it is empty or malformed.
func (c *setCtx) num(seg x12.Segment, i int, what string) (decimal.Decimal, bool) {
	v := seg.Elem(i)
	if v == "" {
		c.fail(CodeMissing, seg, i, "%s-%02d (%s) is empty", seg.ID, i, what)
		return decimal.Decimal{}, false
	}
	d, err := canonical.ParseX12Real(v)
	if err != nil {
		c.failErr(err, seg, i, fmt.Sprintf("%s-%02d (%s)", seg.ID, i, what))
		return decimal.Decimal{}, false
	}
	return d, true
}

// optNum reads an optional R element; present is false when it is empty.
func (c *setCtx) optNum(seg x12.Segment, i int, what string) (d decimal.Decimal, present, ok bool) {
	if seg.Elem(i) == "" {
		return decimal.Decimal{}, false, true
	}
	d, ok = c.num(seg, i, what)
	return d, true, ok
}

// money reads an X12 N2 amount (implied two decimals, "125000" = 1250.00).
func (c *setCtx) money(seg x12.Segment, i int, currency, what string) (*canonical.Money, decimal.Decimal, bool) {
	v := seg.Elem(i)
	if v == "" {
		c.fail(CodeMissing, seg, i, "%s-%02d (%s) is empty", seg.ID, i, what)
		return nil, decimal.Decimal{}, false
	}
	d, err := canonical.ParseImpliedDecimal(v, 2)
	if err != nil {
		c.failErr(err, seg, i, fmt.Sprintf("%s-%02d (%s)", seg.ID, i, what))
		return nil, decimal.Decimal{}, false
	}
	return canonical.MoneyOf(d, currency), d, true
}

// unit maps an X12 355 unit code to its Rec 20 code.
func (c *setCtx) unit(seg x12.Segment, i int) (string, bool) { return c.unitOf(seg, i, seg.Elem(i)) }

// unitOf maps code, found at element i of seg, to its Rec 20 code.
func (c *setCtx) unitOf(seg x12.Segment, i int, code string) (string, bool) {
	if code == "" {
		c.fail(CodeMissing, seg, i, "%s-%02d (unit of measure) is empty", seg.ID, i)
		return "", false
	}
	u, ok := units.FromX12(code)
	if !ok {
		c.fail("unit_unknown", seg, i, "%s-%02d: X12 unit code %q is not in the unit table", seg.ID, i, code)
	}
	return u, ok
}

// weightUnit maps an X12 weight unit code (element 188) or, failing that,
// a 355 unit code.
func (c *setCtx) weightUnit(seg x12.Segment, i int) (string, bool) {
	switch seg.Elem(i) {
	case "L":
		return "LBR", true
	case "K":
		return "KGM", true
	}
	return c.unit(seg, i)
}

// qty makes a canonical quantity from a decimal and a unit.
func qty(d decimal.Decimal, uom string) *canonical.Quantity { return canonical.QtyOf(d, uom) }

// gtin validates a GTIN element and returns it as GTIN-14.
func (c *setCtx) gtin(seg x12.Segment, i int) (string, bool) {
	g, err := gs1.NormalizeGTIN(seg.Elem(i))
	if err != nil {
		c.failErr(err, seg, i, fmt.Sprintf("%s-%02d (GTIN)", seg.ID, i))
		return "", false
	}
	return g, true
}

// sscc validates an SSCC element; 20 digits with the "00" application
// identifier in front are accepted.
func (c *setCtx) sscc(seg x12.Segment, i int) (string, bool) {
	v := seg.Elem(i)
	if len(v) == 20 && strings.HasPrefix(v, "00") {
		v = v[2:]
	}
	if err := gs1.ValidateSSCC(v); err != nil {
		c.failErr(err, seg, i, fmt.Sprintf("%s-%02d (SSCC)", seg.ID, i))
		return "", false
	}
	return v, true
}

// itemIDs are the product identifiers of one line, from qualifier/id pairs.
type itemIDs struct {
	sku, gtin, lot string
	seen           bool
}

// gtinQualifiers are the element 235 qualifiers whose id is a GTIN.
var gtinQualifiers = map[string]bool{
	"UK": true, // U.P.C./EAN Shipping Container Code (GTIN-14)
	"UP": true, // U.P.C. Consumer Package Code (GTIN-12)
	"EN": true, // EAN/UCC-13
	"EO": true, // EAN/UCC-8
}

// ids reads qualifier/id pairs at the given element positions (the
// qualifier's position; the id follows it).
func (c *setCtx) ids(seg x12.Segment, quals ...int) itemIDs {
	var out itemIDs
	skuRank := len(c.m.skuQuals)
	for _, q := range quals {
		qual, id := seg.Elem(q), seg.Elem(q+1)
		if qual == "" && id == "" {
			continue
		}
		out.seen = true
		switch {
		case gtinQualifiers[qual]:
			if g, ok := c.gtin(seg, q+1); ok {
				if out.gtin != "" && out.gtin != g {
					c.fail(CodeUnknownCode, seg, q+1, "%s carries two GTINs, %s and %s", seg.ID, out.gtin, g)
				}
				out.gtin = g
			}
		case qual == "LT":
			out.lot = id
		default:
			for r, sq := range c.m.skuQuals {
				if qual == sq && r < skuRank {
					out.sku, skuRank = id, r
				}
			}
		}
	}
	return out
}

// itemRef completes ids into an ItemRef; a line without a SKU is rejected.
func (c *setCtx) itemRef(owner string, ids itemIDs, seg x12.Segment) *canonical.ItemRef {
	if ids.sku == "" {
		c.fail(CodeMissing, seg, 0, "%s names no item by a SKU qualifier (%s)", seg.ID, strings.Join(c.m.skuQuals, ", "))
		return nil
	}
	return &canonical.ItemRef{OwnerId: owner, Sku: ids.sku, Gtin: ids.gtin, Lot: ids.lot}
}

// partyRoles maps N1-01 entity identifier codes (element 98).
var partyRoles = map[string][]canonical.PartyRole{
	"ST": {canonical.PartyRole_PARTY_ROLE_SHIP_TO},
	"SF": {canonical.PartyRole_PARTY_ROLE_SHIP_FROM},
	"SH": {canonical.PartyRole_PARTY_ROLE_SHIPPER},
	"CN": {canonical.PartyRole_PARTY_ROLE_CONSIGNEE},
	"BT": {canonical.PartyRole_PARTY_ROLE_BILL_TO},
	"DE": {canonical.PartyRole_PARTY_ROLE_OWNER},
	"BY": {canonical.PartyRole_PARTY_ROLE_CUSTOMER},
	"SO": {canonical.PartyRole_PARTY_ROLE_CUSTOMER}, // sold to
	"OB": {canonical.PartyRole_PARTY_ROLE_CUSTOMER}, // ordered by
	"SU": {canonical.PartyRole_PARTY_ROLE_SUPPLIER},
	"VN": {canonical.PartyRole_PARTY_ROLE_SUPPLIER},
	"CA": {canonical.PartyRole_PARTY_ROLE_CARRIER},
	"WH": nil, // warehouse: the site itself
}

// party is an N1 loop: the party and its entity code.
type party struct {
	entity string
	p      *canonical.Party
	n1     x12.Segment
}

// readParty reads the N1 loop starting at segs[0] (N1 and the N2, N3, N4
// and PER after it) and returns it with the number of segments used.
func (c *setCtx) readParty(segs []x12.Segment) (party, int) {
	n1 := segs[0]
	pt := party{entity: n1.Elem(1), n1: n1, p: &canonical.Party{Name: n1.Elem(2)}}
	roles, ok := partyRoles[pt.entity]
	if !ok {
		c.fail(CodeUnknownCode, n1, 1, "N1-01 entity code %q is not mapped", pt.entity)
	}
	pt.p.Roles = roles
	switch q, id := n1.Elem(3), n1.Elem(4); {
	case q == "UL" && id != "":
		if err := gs1.ValidateGLN(id); err != nil {
			c.failErr(err, n1, 4, "N1-04 (GLN)")
		}
		pt.p.Gln = id
	case id != "":
		pt.p.Id = id
	}
	n := 1
	for ; n < len(segs); n++ {
		s := segs[n]
		switch s.ID {
		case "N2":
			pt.p.Name = strings.TrimSpace(pt.p.Name + " " + s.Elem(1))
		case "N3":
			c.addr(&pt).Lines = append(c.addr(&pt).Lines, nonEmpty(s.Elem(1), s.Elem(2))...)
		case "N4":
			a := c.addr(&pt)
			a.City, a.Region, a.PostalCode, a.Country = s.Elem(1), s.Elem(2), s.Elem(3), s.Elem(4)
		case "PER":
		default:
			return pt, n
		}
	}
	return pt, n
}

func (c *setCtx) addr(pt *party) *canonical.Address {
	if pt.p.Address == nil {
		pt.p.Address = &canonical.Address{}
	}
	return pt.p.Address
}

func nonEmpty(vs ...string) []string {
	var out []string
	for _, v := range vs {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// date reads a CCYYMMDD date element as YYYY-MM-DD.
func (c *setCtx) date(seg x12.Segment, i int) (string, bool) {
	w, err := x12.ParseDateTime(seg.Elem(i), "")
	if err != nil {
		c.failErr(err, seg, i, fmt.Sprintf("%s-%02d (date)", seg.ID, i))
		return "", false
	}
	return fmt.Sprintf("%04d-%02d-%02d", w.Year, int(w.Month), w.Day), true
}

// at resolves a date, time and X12 time code (element 623) to an instant
// carrying the offset in force. An empty code or LT means local time: in
// local (the place's zone); nil local means no place is known, which is an
// error for LT. The returned time is in a fixed zone of the offset, so
// NewEvent writes occurredoffset.
func (c *setCtx) at(seg x12.Segment, dateElem, timeElem int, code string, local *time.Location, codeElem int) (time.Time, bool) {
	w, err := x12.ParseDateTime(seg.Elem(dateElem), seg.Elem(timeElem))
	if err != nil {
		c.failErr(err, seg, dateElem, fmt.Sprintf("%s-%02d/%02d (date and time)", seg.ID, dateElem, timeElem))
		return time.Time{}, false
	}
	loc := local
	switch spec, ok := timeCodes[code]; {
	case code == "" || code == "LT":
		if loc == nil {
			c.fail(CodeZoneUnknown, seg, codeElem, "%s time is local but no place names its zone", seg.ID)
			return time.Time{}, false
		}
	case !ok:
		c.fail(CodeUnknownCode, seg, codeElem, "time code %q is not an X12 time code (element 623)", code)
		return time.Time{}, false
	case spec.name == "":
		// The wall reading is in a fixed offset: read it as UTC, then shift.
		t := time.Date(w.Year, w.Month, w.Day, w.Hour, w.Minute, w.Second, w.Nanosecond, time.UTC).Add(-time.Duration(spec.offset) * time.Second)
		return t.In(time.FixedZone("", spec.offset)), true
	default:
		if loc, err = localtime.LoadZone(spec.name); err != nil {
			c.failErr(err, seg, codeElem, "time code "+code)
			return time.Time{}, false
		}
	}
	r, err := localtime.Resolve(w, loc)
	if err != nil {
		c.failErr(err, seg, timeElem, fmt.Sprintf("%s-%02d/%02d %s %s in %s", seg.ID, dateElem, timeElem, seg.Elem(dateElem), seg.Elem(timeElem), loc))
		return time.Time{}, false
	}
	if r.Ambiguous {
		c.warn(CodeTimeAmbiguous, seg, timeElem, "%s %s in %s happened twice (clocks fell back); the earlier instant %s is used",
			seg.Elem(dateElem), seg.Elem(timeElem), loc, r.Time.Format(time.RFC3339))
	}
	return r.Time.In(time.FixedZone("", r.Offset)), true
}

// docTime is when the group was created (GS04/GS05), read in the sending
// partner's zone: the occurrence time of documents that carry no event
// time of their own (orders, tenders, invoices).
func (c *setCtx) docTime() (time.Time, bool) {
	zone := c.senderZone()
	r, err := localtime.Resolve(c.g.Date, zone)
	if err != nil {
		c.failErr(err, c.g.Header, 4, fmt.Sprintf("GS04/GS05 in %s", zone))
		return time.Time{}, false
	}
	if r.Ambiguous {
		c.warn(CodeTimeAmbiguous, c.g.Header, 5, "GS04/GS05 %s in %s happened twice; the earlier instant is used", c.g.Date, zone)
	}
	return r.Time.In(time.FixedZone("", r.Offset)), true
}

// ts converts a time for a payload field (nil for the zero time).
func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

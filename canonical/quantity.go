package canonical

import (
	"fmt"

	"github.com/draylink/dray/canonical/gs1"
	"github.com/draylink/dray/canonical/units"
	"github.com/shopspring/decimal"
)

// Qty makes a quantity from a decimal string and a unit code, kept exactly as
// given ("12.500" stays "12.500"). Validate checks both.
func Qty(value, uom string) *Quantity { return &Quantity{Value: value, Uom: uom} }

// QtyOf makes a quantity from a decimal.
func QtyOf(d decimal.Decimal, uom string) *Quantity {
	return &Quantity{Value: d.String(), Uom: uom}
}

// Decimal parses the quantity's value.
func (q *Quantity) Decimal() (decimal.Decimal, error) {
	return ParseDecimal(q.GetValue())
}

// ConversionError explains why a quantity cannot be expressed in a unit.
type ConversionError struct {
	// Code is stable: uom_not_in_pack_hierarchy, fractional_each,
	// inexact_conversion, gtin_level_mismatch, gtin_unknown, or a units code.
	code string
	msg  string
}

func (e *ConversionError) Error() string { return e.msg }

// Code is the stable error code.
func (e *ConversionError) Code() string { return e.code }

func convErr(code, format string, args ...any) error {
	return &ConversionError{code: code, msg: fmt.Sprintf(format, args...)}
}

// packFor finds the pack level of a unit.
func (x *Item) packFor(uom string) *Pack {
	for _, p := range x.GetPacks() {
		if p.GetUom() == uom {
			return p
		}
	}
	return nil
}

// PackForGTIN finds the pack level a GTIN identifies (GTINs differ per level).
func (x *Item) PackForGTIN(gtin string) (*Pack, bool) {
	want, err := gs1.NormalizeGTIN(gtin)
	if err != nil {
		return nil, false
	}
	for _, p := range x.GetPacks() {
		if got, err := gs1.NormalizeGTIN(p.GetGtin()); err == nil && got == want {
			return p, true
		}
	}
	return nil, false
}

// CheckGTINLevel reports a quantity counted under the GTIN of another pack
// level (e.g. a case GTIN with a quantity in eaches): the classic
// wrong-level-GTIN error of EDI and scanner data.
func (x *Item) CheckGTINLevel(gtin, uom string) error {
	p, ok := x.PackForGTIN(gtin)
	if !ok {
		return convErr("gtin_unknown", "gtin %s is not a pack level of item %s", gtin, x.GetSku())
	}
	if p.GetUom() != uom && !sameEach(p.GetUom(), uom) {
		return convErr("gtin_level_mismatch", "gtin %s identifies %s of item %s, but the quantity is in %s",
			gtin, p.GetUom(), x.GetSku(), uom)
	}
	return nil
}

// ToBase converts a quantity into the item's base unit through its pack
// hierarchy (XCS of 12 → 12 EA per case) or, for measured units, through the
// unit's exact factor (LBR → KGM). A result in a countable base unit must be a
// whole number: fractional eaches are an error.
func (x *Item) ToBase(q *Quantity) (*Quantity, error) {
	v, err := q.Decimal()
	if err != nil {
		return nil, err
	}
	base := x.GetBaseUom()
	out, err := x.toBase(v, q.GetUom())
	if err != nil {
		return nil, err
	}
	if units.IsCountable(base) && !out.IsInteger() {
		return nil, convErr("fractional_each", "%s %s of item %s is %s %s: not a whole number",
			q.GetValue(), q.GetUom(), x.GetSku(), out.String(), base)
	}
	return QtyOf(out, base), nil
}

func (x *Item) toBase(v decimal.Decimal, uom string) (decimal.Decimal, error) {
	base := x.GetBaseUom()
	if uom == base || sameEach(uom, base) {
		return v, nil
	}
	if p := x.packFor(uom); p != nil {
		per, err := ParseDecimal(p.GetQtyInBase())
		if err != nil {
			return decimal.Decimal{}, fmt.Errorf("item %s pack %s: %w", x.GetSku(), uom, err)
		}
		return v.Mul(per), nil
	}
	if out, err := units.Convert(v, uom, base); err == nil {
		return out, nil
	}
	return decimal.Decimal{}, convErr("uom_not_in_pack_hierarchy", "item %s has no pack level %s and %s does not convert to its base unit %s",
		x.GetSku(), uom, uom, base)
}

// Convert expresses a quantity in another unit of the item (a pack level, the
// base unit, or a measured unit of the base's dimension). The conversion must
// be exact: 30 EA is not a whole number of 12-each cases.
func (x *Item) Convert(q *Quantity, to string) (*Quantity, error) {
	b, err := x.ToBase(q)
	if err != nil {
		return nil, err
	}
	v, _ := b.Decimal()
	base := x.GetBaseUom()
	if to == base || sameEach(to, base) {
		return QtyOf(v, to), nil
	}
	if p := x.packFor(to); p != nil {
		per, err := ParseDecimal(p.GetQtyInBase())
		if err != nil {
			return nil, fmt.Errorf("item %s pack %s: %w", x.GetSku(), to, err)
		}
		out := v.DivRound(per, 12)
		if !out.Mul(per).Equal(v) || (units.IsCountable(to) && !out.IsInteger()) {
			return nil, convErr("inexact_conversion", "%s %s of item %s is not a whole number of %s (%s each)",
				q.GetValue(), q.GetUom(), x.GetSku(), to, p.GetQtyInBase())
		}
		return QtyOf(out, to), nil
	}
	out, err := units.Convert(v, base, to)
	if err != nil {
		return nil, convErr("uom_not_in_pack_hierarchy", "item %s: cannot express %s in %s: %v", x.GetSku(), base, to, err)
	}
	return QtyOf(out, to), nil
}

// SumIn adds quantities in mixed units of one item, expressed in unit to.
func (x *Item) SumIn(to string, qs ...*Quantity) (*Quantity, error) {
	total := decimal.Zero
	for _, q := range qs {
		b, err := x.ToBase(q)
		if err != nil {
			return nil, err
		}
		v, _ := b.Decimal()
		total = total.Add(v)
	}
	return x.Convert(QtyOf(total, x.GetBaseUom()), to)
}

// sameEach treats EA, H87 and C62 as one unit (units.Lookup gives them the
// same dimension and factor).
func sameEach(a, b string) bool {
	ua, okA := units.Lookup(a)
	ub, okB := units.Lookup(b)
	return okA && okB && ua.Dimension == units.Count && ub.Dimension == units.Count &&
		ua.Factor.Equal(decimal.NewFromInt(1)) && ub.Factor.Equal(decimal.NewFromInt(1))
}

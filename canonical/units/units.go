// Package units knows the units of measure the canonical model accepts and
// converts quantities between them exactly.
//
// Codes are UN/ECE Recommendation 20 common codes (EA, KGM, LBR, MTQ …) and,
// for packages, UN/ECE Recommendation 21 package types in their Rec 20 form
// with an "X" prefix (XCS case, XPX pallet …). Codes are case-sensitive,
// exactly as Rec 20 publishes them. The table holds the units logistics
// data actually uses, not all of Rec 20; an unknown code is an error for
// the caller to quarantine, never a guess.
//
// Rules applied:
//
//   - Every unit has a Dimension. Conversion happens only within one
//     dimension, through an exact decimal factor to the dimension's base
//     unit: EA (count), KGM (mass), MTR (length), MTK (area), MTQ (volume),
//     SEC (time). Imperial and US factors are the exact legal definitions
//     (1 lb = 0.45359237 kg, 1 in = 0.0254 m, 1 US gal = 231 in³), not the
//     seven-digit values printed in Rec 20's annex.
//   - EA (each), H87 (piece) and C62 (one) are the same unit, "each".
//     DZN is 12 and GRO 144 of them.
//   - PR (pair) and SET are counted in their own right: a pair of shoes or
//     a set of tools is one pick, and how many eaches it holds (if eaches
//     exist at all) is a property of the item. They are countable but have
//     no factor, so converting them to any other unit needs the item.
//   - Package units (XCS, XPX …) hold as many eaches as the item's pack
//     hierarchy says: a case of one item is 12 EA, of another 48. This
//     package never converts them; Convert returns an error with code
//     unit_package_needs_item, and the caller converts through the item.
//   - Count and package quantities must be whole numbers once expressed in
//     eaches (IsCountable); checking that is the caller's job, after
//     conversion through the item.
//   - Convert is exact whenever the result has a finite decimal expansion
//     (2 LBR = 0.90718474 KGM; 0.45359237 KGM = 1 LBR). When it does not
//     (1 KGM = 2.2046226218487758… LBR) the result is rounded half-even to
//     RoundingPlaces (12) decimal places, far below any scale's resolution.
//   - ANSI X12 element 355 codes map to Rec 20 codes one-to-one through
//     FromX12 and ToX12 (see x12.go for the choices made where X12 is
//     ambiguous).
//
// Failures are *Error with the stable codes unit_unknown,
// unit_dimension_mismatch and unit_package_needs_item.
package units

import (
	"fmt"
	"math/big"

	"github.com/shopspring/decimal"
)

// RoundingPlaces is the number of decimal places a conversion result is
// rounded to, half-even, when its exact value has no finite decimal form.
const RoundingPlaces = 12

// Dimension is the physical quantity a unit measures.
type Dimension int

const (
	// Count measures discrete things; base unit EA.
	Count Dimension = iota + 1
	// Mass measures base unit KGM.
	Mass
	// Length measures base unit MTR.
	Length
	// Area measures base unit MTK.
	Area
	// Volume measures base unit MTQ.
	Volume
	// Package measures a Rec 21 package type; no base unit, its size is per item.
	Package
	// Time measures durations, as used for detention or storage charges; base unit SEC.
	Time
)

func (d Dimension) String() string {
	switch d {
	case Count:
		return "count"
	case Mass:
		return "mass"
	case Length:
		return "length"
	case Area:
		return "area"
	case Volume:
		return "volume"
	case Package:
		return "package"
	case Time:
		return "time"
	}
	return fmt.Sprintf("Dimension(%d)", int(d))
}

// Unit describes one unit of measure.
type Unit struct {
	Code      string // Rec 20 common code, e.g. "KGM", or "X" + Rec 21 code, e.g. "XCS"
	Name      string // Rec 20 / Rec 21 name, e.g. "kilogram", "case"
	Dimension Dimension
	// Factor is the exact size of one unit in the dimension's base unit
	// (EA, KGM, MTR, MTK, MTQ, SEC). It is zero for Package units and for
	// the item-defined count units PR and SET.
	Factor decimal.Decimal
}

// Lookup returns the unit with the given code.
func Lookup(code string) (Unit, bool) {
	u, ok := table[code]
	return u, ok
}

// Known reports whether code is a unit this package knows.
func Known(code string) bool {
	_, ok := table[code]
	return ok
}

// IsCountable reports whether quantities in code count discrete things
// (Count or Package dimension), so that they must be whole numbers once
// expressed in eaches. It is false for unknown codes.
func IsCountable(code string) bool {
	u, ok := table[code]
	return ok && (u.Dimension == Count || u.Dimension == Package)
}

// Convert expresses v, a quantity in unit from, in unit to. Both units must
// be known and of the same dimension; package units and the item-defined
// count units PR and SET convert only to themselves. The result is exact
// when it has a finite decimal form and otherwise rounded half-even to
// RoundingPlaces decimal places.
func Convert(v decimal.Decimal, from, to string) (decimal.Decimal, error) {
	f, ok := table[from]
	if !ok {
		return decimal.Decimal{}, &Error{Kind: KindUnknown, From: from, To: to, Unit: from}
	}
	t, ok := table[to]
	if !ok {
		return decimal.Decimal{}, &Error{Kind: KindUnknown, From: from, To: to, Unit: to}
	}
	if from == to {
		return v, nil
	}
	// Package first: a case converts to kilograms or eaches only through
	// the item, whatever the target dimension.
	for _, u := range []Unit{f, t} {
		if u.Dimension == Package {
			return decimal.Decimal{}, &Error{Kind: KindNeedsItem, From: from, To: to, Unit: u.Code}
		}
	}
	if f.Dimension != t.Dimension {
		return decimal.Decimal{}, &Error{Kind: KindDimensionMismatch, From: from, To: to}
	}
	for _, u := range []Unit{f, t} {
		if u.Factor.IsZero() {
			return decimal.Decimal{}, &Error{Kind: KindNeedsItem, From: from, To: to, Unit: u.Code}
		}
	}
	r := new(big.Rat).Mul(v.Rat(), f.Factor.Rat())
	r.Quo(r, t.Factor.Rat())
	return fromRat(r), nil
}

// fromRat returns r exactly if its reduced denominator is of the form
// 2^a·5^b (the only fractions with a finite decimal expansion), and
// otherwise rounded half-even to RoundingPlaces decimal places.
func fromRat(r *big.Rat) decimal.Decimal {
	num, den := r.Num(), r.Denom()
	a, rest := stripFactor(den, 2)
	b, rest := stripFactor(rest, 5)
	if rest.Cmp(big.NewInt(1)) == 0 {
		scale := max(a, b)
		q := new(big.Int).Mul(num, pow10(scale))
		q.Quo(q, den) // exact: den divides num·10^scale
		return decimal.NewFromBigInt(q, -int32(scale))
	}
	abs := new(big.Int).Abs(num)
	abs.Mul(abs, pow10(RoundingPlaces))
	q, rem := new(big.Int).QuoRem(abs, den, new(big.Int))
	// An exact tie would make the value terminate, so none occurs here and
	// half-even reduces to comparing the remainder with half the divisor.
	if rem.Lsh(rem, 1).Cmp(den) > 0 {
		q.Add(q, big.NewInt(1))
	}
	if num.Sign() < 0 {
		q.Neg(q)
	}
	return decimal.NewFromBigInt(q, -RoundingPlaces)
}

// stripFactor divides p out of x as often as it goes and returns the count
// and what remains. x is not modified.
func stripFactor(x *big.Int, p int64) (int, *big.Int) {
	bp := big.NewInt(p)
	rest := new(big.Int).Set(x)
	q, m := new(big.Int), new(big.Int)
	n := 0
	for {
		q.QuoRem(rest, bp, m)
		if m.Sign() != 0 {
			return n, rest
		}
		rest.Set(q)
		n++
	}
}

func pow10(n int) *big.Int {
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n)), nil)
}

// Kind classifies a conversion failure.
type Kind int

const (
	// KindUnknown means a code is not in the table.
	KindUnknown Kind = iota + 1
	// KindDimensionMismatch means the units measure different things.
	KindDimensionMismatch
	// KindNeedsItem means a package unit, PR or SET is involved; only the item's
	// pack hierarchy knows how many eaches it holds.
	KindNeedsItem
)

// Error reports why Convert failed.
type Error struct {
	Kind     Kind
	From, To string
	Unit     string // KindUnknown, KindNeedsItem: the code at fault
}

// Code returns the stable machine code for the failure.
func (e *Error) Code() string {
	switch e.Kind {
	case KindUnknown:
		return "unit_unknown"
	case KindDimensionMismatch:
		return "unit_dimension_mismatch"
	case KindNeedsItem:
		return "unit_package_needs_item"
	}
	return "unit_invalid"
}

func (e *Error) Error() string {
	prefix := fmt.Sprintf("convert %s to %s: ", e.From, e.To)
	switch e.Kind {
	case KindUnknown:
		return prefix + fmt.Sprintf("unknown unit %q", e.Unit)
	case KindDimensionMismatch:
		f, t := table[e.From], table[e.To]
		return prefix + fmt.Sprintf("%s is %s, %s is %s", f.Name, f.Dimension, t.Name, t.Dimension)
	case KindNeedsItem:
		return prefix + fmt.Sprintf("%s (%s) has no fixed size; convert through the item's pack hierarchy", e.Unit, table[e.Unit].Name)
	}
	return prefix + "invalid"
}

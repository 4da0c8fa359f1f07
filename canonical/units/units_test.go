package units

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestLookup(t *testing.T) {
	tests := []struct {
		code       string
		wantName   string
		wantDim    Dimension
		wantFactor string // "0" for none
	}{
		{"EA", "each", Count, "1"},
		{"H87", "piece", Count, "1"},
		{"C62", "one", Count, "1"},
		{"DZN", "dozen", Count, "12"},
		{"GRO", "gross", Count, "144"},
		{"PR", "pair", Count, "0"},
		{"KGM", "kilogram", Mass, "1"},
		{"LBR", "pound", Mass, "0.45359237"},
		{"ONZ", "ounce (avoirdupois)", Mass, "0.028349523125"},
		{"INH", "inch", Length, "0.0254"},
		{"FOT", "foot", Length, "0.3048"},
		{"YRD", "yard", Length, "0.9144"},
		{"FTK", "square foot", Area, "0.09290304"},
		{"GLL", "gallon (US)", Volume, "0.003785411784"},
		{"LTR", "litre", Volume, "0.001"},
		{"HUR", "hour", Time, "3600"},
		{"XCS", "case", Package, "0"},
		{"XPX", "pallet", Package, "0"},
		{"XSW", "shrinkwrapped", Package, "0"},
	}
	for _, tt := range tests {
		u, ok := Lookup(tt.code)
		if !ok {
			t.Errorf("Lookup(%q) not found", tt.code)
			continue
		}
		if u.Code != tt.code || u.Name != tt.wantName || u.Dimension != tt.wantDim || !u.Factor.Equal(dec(tt.wantFactor)) {
			t.Errorf("Lookup(%q) = %+v; want name %q, dimension %v, factor %s", tt.code, u, tt.wantName, tt.wantDim, tt.wantFactor)
		}
	}
}

func TestUnknownCodes(t *testing.T) {
	// Lowercase, X12 codes, the Rec 21 code without its X, and codes left
	// out on purpose (QTI is the UK quart, XTO a tun, not a tote).
	for _, code := range []string{"", "kgm", "Kgm", "LB", "CA", "PL", "CS", "QTI", "XTO", "MON", "ANN", "XSX", " KGM"} {
		if Known(code) {
			t.Errorf("Known(%q) = true; want false", code)
		}
		if _, ok := Lookup(code); ok {
			t.Errorf("Lookup(%q) found a unit; want none", code)
		}
		if IsCountable(code) {
			t.Errorf("IsCountable(%q) = true; want false", code)
		}
	}
}

func TestIsCountable(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"EA", true},
		{"H87", true},
		{"DZN", true},
		{"PR", true},
		{"SET", true},
		{"XCS", true},
		{"XPX", true},
		{"KGM", false},
		{"LBR", false},
		{"MTR", false},
		{"MTQ", false},
		{"HUR", false},
	}
	for _, tt := range tests {
		if got := IsCountable(tt.code); got != tt.want {
			t.Errorf("IsCountable(%q) = %v; want %v", tt.code, got, tt.want)
		}
	}
}

func TestTable(t *testing.T) {
	for code, u := range table {
		if u.Code != code {
			t.Errorf("table[%q].Code = %q", code, u.Code)
		}
		if u.Dimension < Count || u.Dimension > Time {
			t.Errorf("%s: dimension %v out of range", code, u.Dimension)
		}
		if u.Dimension == Package {
			if !u.Factor.IsZero() {
				t.Errorf("%s: package unit with factor %s", code, u.Factor)
			}
			if len(code) != 3 || code[0] != 'X' {
				t.Errorf("%s: package code is not X + Rec 21 code", code)
			}
			continue
		}
		if u.Factor.IsNegative() {
			t.Errorf("%s: negative factor %s", code, u.Factor)
		}
		if u.Factor.IsZero() && code != "PR" && code != "SET" {
			t.Errorf("%s: zero factor outside PR and SET", code)
		}
	}
	for dim, base := range map[Dimension]string{Count: "EA", Mass: "KGM", Length: "MTR", Area: "MTK", Volume: "MTQ", Time: "SEC"} {
		u := table[base]
		if u.Dimension != dim || !u.Factor.Equal(decimal.NewFromInt(1)) {
			t.Errorf("base unit %s of %v = %+v; want factor 1", base, dim, u)
		}
	}
}

func TestConvert(t *testing.T) {
	tests := []struct {
		v        string
		from, to string
		want     string
	}{
		// Exact results.
		{"2", "LBR", "KGM", "0.90718474"},
		{"0.90718474", "KGM", "LBR", "2"},
		{"0.45359237", "KGM", "LBR", "1"},
		{"1", "GLL", "LTR", "3.785411784"},
		{"3.785411784", "LTR", "GLL", "1"},
		{"1", "DZN", "EA", "12"},
		{"1", "GRO", "DZN", "12"},
		{"30", "EA", "DZN", "2.5"},
		{"7", "H87", "EA", "7"},
		{"7", "EA", "C62", "7"},
		{"16", "ONZ", "LBR", "1"},
		{"1", "STN", "LBR", "2000"},
		{"1", "LTN", "LBR", "2240"},
		{"12", "INH", "FOT", "1"},
		{"1", "FOT", "CMT", "30.48"},
		{"1", "YRD", "INH", "36"},
		{"1", "SMI", "FOT", "5280"},
		{"1", "FTK", "INK", "144"},
		{"1", "FTQ", "INQ", "1728"},
		{"1", "GLL", "INQ", "231"},
		{"1", "GLL", "OZA", "128"},
		{"4", "QTL", "GLL", "1"},
		{"1", "MTQ", "LTR", "1000"},
		{"2.5", "HUR", "MIN", "150"},
		{"1", "WEE", "HUR", "168"},
		{"12.500", "KGM", "GRM", "12500"},
		{"1", "MGM", "TNE", "0.000000001"},
		{"0.000000000001", "MGM", "KGM", "0.000000000000000001"}, // exact beyond 12 places
		{"-2", "LBR", "KGM", "-0.90718474"},
		{"0", "LBR", "KGM", "0"},
		{"5", "XCS", "XCS", "5"}, // identity needs no item
		{"3", "PR", "PR", "3"},
		// Non-terminating: rounded half-even to 12 places.
		{"1", "KGM", "LBR", "2.204622621849"},   // 2.20462262184877580…
		{"-1", "KGM", "LBR", "-2.204622621849"}, // rounding is symmetric
		{"1", "LTR", "GLL", "0.264172052358"},   // 0.26417205235814841…
		{"1", "MTR", "FOT", "3.280839895013"},   // 3.28083989501312335…
		{"1", "EA", "DZN", "0.083333333333"},    // 0.08333…
		{"2", "EA", "DZN", "0.166666666667"},    // 0.16666…
		{"100", "GRM", "ONZ", "3.527396194958"}, // 3.52739619495804129…
	}
	for _, tt := range tests {
		got, err := Convert(dec(tt.v), tt.from, tt.to)
		if err != nil {
			t.Errorf("Convert(%s %s → %s): %v", tt.v, tt.from, tt.to, err)
			continue
		}
		if !got.Equal(dec(tt.want)) {
			t.Errorf("Convert(%s %s → %s) = %s; want %s", tt.v, tt.from, tt.to, got, tt.want)
		}
	}
}

func TestConvertRoundTripIsExactWhereRatioTerminates(t *testing.T) {
	// For every pair whose factor ratio has a finite decimal form, going
	// there and back returns the input unchanged.
	v := dec("123.456")
	for from, f := range table {
		for to, u := range table {
			if f.Dimension != u.Dimension || f.Factor.IsZero() || u.Factor.IsZero() {
				continue
			}
			there, err := Convert(v, from, to)
			if err != nil {
				t.Fatalf("Convert %s → %s: %v", from, to, err)
			}
			back, err := Convert(there, to, from)
			if err != nil {
				t.Fatalf("Convert %s → %s: %v", to, from, err)
			}
			if isExact(f.Factor, u.Factor) && !back.Equal(v) {
				t.Errorf("%s → %s → %s: %s became %s", from, to, from, v, back)
			}
		}
	}
}

// isExact reports whether a/b has a finite decimal expansion.
func isExact(a, b decimal.Decimal) bool {
	q := a.DivRound(b, 40)
	return q.Mul(b).Equal(a)
}

func TestConvertErrors(t *testing.T) {
	tests := []struct {
		from, to string
		wantCode string
		wantUnit string
		wantText string
	}{
		{"KGX", "LBR", "unit_unknown", "KGX", `convert KGX to LBR: unknown unit "KGX"`},
		{"KGM", "lbr", "unit_unknown", "lbr", `convert KGM to lbr: unknown unit "lbr"`},
		{"KGM", "KGM ", "unit_unknown", "KGM ", ""},
		{"KGM", "MTR", "unit_dimension_mismatch", "", `convert KGM to MTR: kilogram is mass, metre is length`},
		{"LTR", "KGM", "unit_dimension_mismatch", "", ""},
		{"EA", "KGM", "unit_dimension_mismatch", "", ""},
		{"PR", "MTR", "unit_dimension_mismatch", "", ""},
		{"XCS", "EA", "unit_package_needs_item", "XCS", `convert XCS to EA: XCS (case) has no fixed size; convert through the item's pack hierarchy`},
		{"EA", "XPX", "unit_package_needs_item", "XPX", ""},
		{"XCS", "XPX", "unit_package_needs_item", "XCS", ""},
		{"XCS", "KGM", "unit_package_needs_item", "XCS", ""},
		{"PR", "EA", "unit_package_needs_item", "PR", ""},
		{"EA", "SET", "unit_package_needs_item", "SET", ""},
	}
	for _, tt := range tests {
		_, err := Convert(dec("1"), tt.from, tt.to)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("Convert(%s → %s) error = %v; want *Error", tt.from, tt.to, err)
			continue
		}
		if e.Code() != tt.wantCode {
			t.Errorf("Convert(%s → %s) code = %s; want %s", tt.from, tt.to, e.Code(), tt.wantCode)
		}
		if e.Unit != tt.wantUnit {
			t.Errorf("Convert(%s → %s) Unit = %q; want %q", tt.from, tt.to, e.Unit, tt.wantUnit)
		}
		if tt.wantText != "" && e.Error() != tt.wantText {
			t.Errorf("Convert(%s → %s) text = %s; want %s", tt.from, tt.to, e.Error(), tt.wantText)
		}
	}
}

func TestX12(t *testing.T) {
	tests := []struct {
		x12, rec20 string
	}{
		{"EA", "EA"},
		{"PC", "H87"},
		{"CA", "XCS"},
		{"PL", "XPX"},
		{"LB", "LBR"},
		{"KG", "KGM"},
		{"CT", "XCT"},
		{"BX", "XBX"},
		{"PK", "XPK"},
		{"BG", "XBG"},
		{"DR", "XDR"},
		{"GA", "GLL"},
		{"LT", "LTR"},
		{"FT", "FOT"},
		{"IN", "INH"},
		{"OZ", "ONZ"},
		{"DZ", "DZN"},
		{"GR", "GRM"},
		{"ML", "MLT"},
		{"RL", "XRO"}, // X12 RL is roll
		{"RE", "XRL"}, // X12 RE is reel
		{"BD", "XBE"},
		{"CF", "FTQ"},
		{"CR", "MTQ"},
		{"SF", "FTK"},
		{"TN", "STN"},
		{"PR", "PR"},
	}
	for _, tt := range tests {
		got, ok := FromX12(tt.x12)
		if !ok || got != tt.rec20 {
			t.Errorf("FromX12(%q) = %q, %v; want %q, true", tt.x12, got, ok, tt.rec20)
		}
		back, ok := ToX12(tt.rec20)
		if !ok || back != tt.x12 {
			t.Errorf("ToX12(%q) = %q, %v; want %q, true", tt.rec20, back, ok, tt.x12)
		}
	}
	for _, code := range []string{"", "ca", "BR", "CN", "TE", "ZZ", "XCS"} {
		if got, ok := FromX12(code); ok {
			t.Errorf("FromX12(%q) = %q; want not found", code, got)
		}
	}
	for _, code := range []string{"", "xcs", "CA", "MON"} {
		if got, ok := ToX12(code); ok {
			t.Errorf("ToX12(%q) = %q; want not found", code, got)
		}
	}
}

func TestX12TableRoundTrip(t *testing.T) {
	for x12, rec20 := range x12ToRec20 {
		if !Known(rec20) {
			t.Errorf("X12 %s maps to unknown unit %s", x12, rec20)
		}
		if back, _ := ToX12(rec20); back != x12 {
			t.Errorf("ToX12(FromX12(%s)) = %s", x12, back)
		}
	}
	if len(rec20ToX12) != len(x12ToRec20) {
		t.Errorf("X12 map is not one-to-one: %d codes, %d inverses", len(x12ToRec20), len(rec20ToX12))
	}
}

func TestDimensionString(t *testing.T) {
	tests := []struct {
		d    Dimension
		want string
	}{
		{Count, "count"},
		{Package, "package"},
		{Time, "time"},
		{0, "Dimension(0)"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("Dimension(%d).String() = %q; want %q", int(tt.d), got, tt.want)
		}
	}
}

package units

import "github.com/shopspring/decimal"

// table holds every known unit by code. Names follow Rec 20 (and Rec 21 for
// packages). Factors are exact: where Rec 20 prints a rounded value (e.g.
// GLL 3,785 412 × 10⁻³ m³) the exact legal definition is used instead.
var table = build([]struct {
	code, name string
	dim        Dimension
	factor     string // to the dimension's base unit; "" for none
}{
	// Count, base EA.
	{"EA", "each", Count, "1"},
	{"H87", "piece", Count, "1"},
	{"C62", "one", Count, "1"},
	{"DZN", "dozen", Count, "12"},
	{"GRO", "gross", Count, "144"},
	{"PR", "pair", Count, ""},
	{"SET", "set", Count, ""},

	// Mass, base KGM. Avoirdupois units from the 1959 international pound.
	{"KGM", "kilogram", Mass, "1"},
	{"GRM", "gram", Mass, "0.001"},
	{"MGM", "milligram", Mass, "0.000001"},
	{"TNE", "tonne (metric ton)", Mass, "1000"},
	{"LBR", "pound", Mass, "0.45359237"},
	{"ONZ", "ounce (avoirdupois)", Mass, "0.028349523125"},      // 1/16 lb
	{"STN", "ton (US) or short ton (UK/US)", Mass, "907.18474"}, // 2000 lb
	{"LTN", "ton (UK) or long ton (US)", Mass, "1016.0469088"},  // 2240 lb

	// Length, base MTR.
	{"MTR", "metre", Length, "1"},
	{"CMT", "centimetre", Length, "0.01"},
	{"MMT", "millimetre", Length, "0.001"},
	{"KMT", "kilometre", Length, "1000"},
	{"INH", "inch", Length, "0.0254"},
	{"FOT", "foot", Length, "0.3048"},
	{"YRD", "yard", Length, "0.9144"},
	{"SMI", "mile (statute mile)", Length, "1609.344"},
	{"NMI", "nautical mile", Length, "1852"},

	// Area, base MTK.
	{"MTK", "square metre", Area, "1"},
	{"CMK", "square centimetre", Area, "0.0001"},
	{"MMK", "square millimetre", Area, "0.000001"},
	{"INK", "square inch", Area, "0.00064516"},
	{"FTK", "square foot", Area, "0.09290304"},
	{"YDK", "square yard", Area, "0.83612736"},

	// Volume, base MTQ. US liquid measures from the 231 in³ gallon; the
	// imperial gallon is 4.54609 L by definition.
	{"MTQ", "cubic metre", Volume, "1"},
	{"DMQ", "cubic decimetre", Volume, "0.001"},
	{"CMQ", "cubic centimetre", Volume, "0.000001"},
	{"MMQ", "cubic millimetre", Volume, "0.000000001"},
	{"INQ", "cubic inch", Volume, "0.000016387064"},
	{"FTQ", "cubic foot", Volume, "0.028316846592"},
	{"YDQ", "cubic yard", Volume, "0.764554857984"},
	{"HLT", "hectolitre", Volume, "0.1"},
	{"LTR", "litre", Volume, "0.001"},
	{"MLT", "millilitre", Volume, "0.000001"},
	{"GLL", "gallon (US)", Volume, "0.003785411784"},
	{"QTL", "liquid quart (US)", Volume, "0.000946352946"},
	{"PTL", "liquid pint (US)", Volume, "0.000473176473"},
	{"OZA", "fluid ounce (US)", Volume, "0.0000295735295625"},
	{"GLI", "gallon (UK)", Volume, "0.00454609"},

	// Time, base SEC. Calendar units (MON, ANN) are left out: their length
	// varies, so no exact factor exists.
	{"SEC", "second", Time, "1"},
	{"MIN", "minute", Time, "60"},
	{"HUR", "hour", Time, "3600"},
	{"DAY", "day", Time, "86400"},
	{"WEE", "week", Time, "604800"},

	// Packages: Rec 21 codes with the X prefix Rec 20 gives them.
	{"XBA", "barrel", Package, ""},
	{"XBE", "bundle", Package, ""},
	{"XBG", "bag", Package, ""},
	{"XBJ", "bucket", Package, ""},
	{"XBK", "basket", Package, ""},
	{"XBX", "box", Package, ""},
	{"XCL", "coil", Package, ""},
	{"XCN", "container, not otherwise specified as transport equipment", Package, ""},
	{"XCR", "crate", Package, ""},
	{"XCS", "case", Package, ""},
	{"XCT", "carton", Package, ""},
	{"XDR", "drum", Package, ""},
	{"XEN", "envelope", Package, ""},
	{"XKG", "keg", Package, ""},
	{"XKI", "kit", Package, ""},
	{"XPA", "packet", Package, ""},
	{"XPK", "package", Package, ""},
	{"XPL", "pail", Package, ""},
	{"XPU", "tray", Package, ""},
	{"XPX", "pallet", Package, ""},
	{"XRL", "reel", Package, ""},
	{"XRO", "roll", Package, ""},
	{"XSA", "sack", Package, ""},
	{"XSL", "slipsheet", Package, ""},
	{"XSO", "spool", Package, ""},
	{"XSW", "shrinkwrapped", Package, ""},
	{"XTU", "tube", Package, ""},
	{"XUN", "unit", Package, ""},
	{"XWA", "intermediate bulk container", Package, ""},
})

func build(rows []struct {
	code, name string
	dim        Dimension
	factor     string
}) map[string]Unit {
	m := make(map[string]Unit, len(rows))
	for _, r := range rows {
		if _, dup := m[r.code]; dup {
			panic("units: duplicate code " + r.code)
		}
		u := Unit{Code: r.code, Name: r.name, Dimension: r.dim}
		if r.factor != "" {
			u.Factor = decimal.RequireFromString(r.factor)
		}
		m[r.code] = u
	}
	return m
}

package units

// x12ToRec20 maps ANSI X12 element 355 (Unit or Basis for Measurement Code)
// to Rec 20 codes. The map is one-to-one so that ToX12 is its exact
// inverse; a test enforces that.
//
// Choices where X12 and the UN/ECE lists do not line up:
//
//   - RL is "Roll" in X12 and maps to XRO; the X12 code for reel is RE,
//     which maps to XRL. (Rec 21 RL is reel: same letters, other thing.)
//   - PL "Pallet/Unit Load" maps to the Rec 21 pallet XPX, the canonical
//     pallet unit, rather than Rec 20 D97 "pallet/unit load".
//   - PC "Piece" maps to H87 (piece) and UN "Unit" to C62 (one); both are
//     the same "each" as EA, but keeping them distinct lets ToX12 give the
//     partner back the code it sent.
//   - TN is "Net Ton (2,000 LB)", the US short ton STN. NS "Short Ton"
//     means the same and is left out to keep the map one-to-one.
//   - QT "Quart" and PT "Pint" are the US liquid measures (X12 has separate
//     codes QS/Q2 for US dry and QU/PX for imperial) and map to QTL, PTL.
//   - GA "Gallon" is the US gallon GLL; GI is the imperial gallon GLI.
//   - Left out as ambiguous: BR "Barrel" (a package or the 42-gallon
//     volume), CN "Can" (Rec 21 tells rectangular from cylindrical cans),
//     BO "Bottle" (likewise), CH "Container" and TE "Tote" (Rec 21 has no
//     rigid tote; TO is a tun and TT a tote bag).
var x12ToRec20 = map[string]string{
	// Count.
	"EA": "EA",
	"PC": "H87",
	"UN": "C62",
	"DZ": "DZN",
	"GS": "GRO",
	"PR": "PR",
	"ST": "SET",

	// Mass.
	"KG": "KGM",
	"GR": "GRM",
	"ME": "MGM",
	"MP": "TNE",
	"LB": "LBR",
	"OZ": "ONZ",
	"TN": "STN",
	"LG": "LTN",

	// Length.
	"MR": "MTR",
	"CM": "CMT",
	"MM": "MMT",
	"DK": "KMT",
	"IN": "INH",
	"FT": "FOT",
	"YD": "YRD",
	"NM": "NMI",

	// Area.
	"SM": "MTK",
	"SC": "CMK",
	"MS": "MMK",
	"SI": "INK",
	"SF": "FTK",
	"SY": "YDK",

	// Volume.
	"CR": "MTQ",
	"C8": "DMQ",
	"CC": "CMQ",
	"CI": "INQ",
	"CF": "FTQ",
	"CY": "YDQ",
	"H4": "HLT",
	"LT": "LTR",
	"ML": "MLT",
	"GA": "GLL",
	"QT": "QTL",
	"PT": "PTL",
	"FO": "OZA",
	"GI": "GLI",

	// Time.
	"MJ": "MIN",
	"HR": "HUR",
	"DA": "DAY",
	"WK": "WEE",

	// Packages.
	"BC": "XBJ",
	"BD": "XBE",
	"BG": "XBG",
	"BS": "XBK",
	"BX": "XBX",
	"CA": "XCS",
	"CP": "XCR",
	"CT": "XCT",
	"CX": "XCL",
	"DR": "XDR",
	"EV": "XEN",
	"KE": "XKG",
	"KT": "XKI",
	"12": "XPA",
	"PA": "XPL",
	"PK": "XPK",
	"PL": "XPX",
	"RE": "XRL",
	"RL": "XRO",
	"S9": "XSL",
	"SJ": "XSA",
	"SO": "XSO",
	"TB": "XTU",
	"TY": "XPU",
}

var rec20ToX12 = invert(x12ToRec20)

// FromX12 returns the Rec 20 code for an X12 element 355 code, e.g.
// "CA" → "XCS", "LB" → "LBR". Codes are case-sensitive.
func FromX12(code string) (string, bool) {
	c, ok := x12ToRec20[code]
	return c, ok
}

// ToX12 returns the X12 element 355 code for a Rec 20 code, e.g.
// "XPX" → "PL", "KGM" → "KG".
func ToX12(code string) (string, bool) {
	c, ok := rec20ToX12[code]
	return c, ok
}

func invert(m map[string]string) map[string]string {
	inv := make(map[string]string, len(m))
	for k, v := range m {
		if _, dup := inv[v]; dup {
			panic("units: two X12 codes map to " + v)
		}
		inv[v] = k
	}
	return inv
}

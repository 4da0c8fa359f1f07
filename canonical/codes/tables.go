package codes

import "strings"

// countries holds the officially assigned ISO 3166-1 alpha-2 codes, one
// line per initial letter so that a missing or extra code stands out.
var countries = set(
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ",
	"BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ",
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ",
	"DE DJ DK DM DO DZ",
	"EC EE EG EH ER ES ET",
	"FI FJ FK FM FO FR",
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY",
	"HK HM HN HR HT HU",
	"ID IE IL IM IN IO IQ IR IS IT",
	"JE JM JO JP",
	"KE KG KH KI KM KN KP KR KW KY KZ",
	"LA LB LC LI LK LR LS LT LU LV LY",
	"MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ",
	"NA NC NE NF NG NI NL NO NP NR NU NZ",
	"OM",
	"PA PE PF PG PH PK PL PM PN PR PS PT PW PY",
	"QA",
	"RE RO RS RU RW",
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ",
	"TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ",
	"UA UG UM US UY UZ",
	"VA VC VE VG VI VN VU",
	"WF WS",
	"YE YT",
	"ZA ZM ZW",
)

// currencies maps each active ISO 4217 code to its minor units. Grouping by
// minor units keeps the exceptions (0, 3 and 4 decimals) easy to review;
// everything else has 2.
var currencies = minorUnits(map[int][]string{
	0: {"BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"},
	2: {
		"AED AFN ALL AMD AOA ARS AUD AWG AZN",
		"BAM BBD BDT BMD BND BOB BOV BRL BSD BTN BWP BYN BZD",
		"CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK",
		"DKK DOP DZD",
		"EGP ERN ETB EUR",
		"FJD FKP",
		"GBP GEL GHS GIP GMD GTQ GYD",
		"HKD HNL HTG HUF",
		"IDR ILS INR IRR",
		"JMD",
		"KES KGS KHR KPW KYD KZT",
		"LAK LBP LKR LRD LSL",
		"MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN",
		"NAD NGN NIO NOK NPR NZD",
		"PAB PEN PGK PHP PKR PLN",
		"QAR",
		"RON RSD RUB",
		"SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL",
		"THB TJS TMT TOP TRY TTD TWD TZS",
		"UAH USD USN UYU UZS",
		"VED VES",
		"WST",
		"XAD XCD XCG",
		"YER",
		"ZAR ZMW ZWG",
	},
	3: {"BHD IQD JOD KWD LYD OMR TND"},
	4: {"CLF UYW"},
})

func set(lines ...string) map[string]struct{} {
	m := make(map[string]struct{})
	for _, l := range lines {
		for _, c := range strings.Fields(l) {
			m[c] = struct{}{}
		}
	}
	return m
}

func minorUnits(groups map[int][]string) map[string]int {
	m := make(map[string]int)
	for n, lines := range groups {
		for c := range set(lines...) {
			m[c] = n
		}
	}
	return m
}

// Package codes validates the standard code lists the canonical model
// carries as plain strings: ISO 3166-1 alpha-2 countries, ISO 4217
// currencies, UN/LOCODE transport points and SCAC carrier codes.
//
// Rules applied:
//
//   - Codes are case-sensitive and uppercase ASCII, as the standards publish
//     them. "us" or "Usd" is rejected, not folded: a lowercase code in source
//     data is a mapping bug worth seeing, and folding would hide it.
//   - Countries: the 249 officially assigned ISO 3166-1 alpha-2 codes.
//     Exceptionally reserved codes ("UK", "EU"),
//     user-assigned codes ("XX", "XZ", "AA") and withdrawn codes ("AN",
//     "YU") are rejected.
//   - Currencies: the active ISO 4217 codes in which an amount can be stated,
//     each with its number of minor units. Codes ISO lists without minor
//     units (precious metals XAU, XAG, XPD, XPT; bond-market units XBA–XBD;
//     XDR, XSU, XUA; the testing code XTS and "no currency" XXX) are
//     rejected, because a freight charge in them is a data error. Withdrawn
//     codes are rejected: HRK (2023), ZWL (2024, now ZWG), CUC (2025),
//     ANG (2025, now XCG) and BGN (2026, now EUR).
//   - UN/LOCODE: an assigned country code followed by three characters from
//     A–Z and 2–9 (UN/LOCODE avoids 0 and 1, which read as O and I). The
//     published form "US MEM" with one space is accepted and normalised to
//     "USMEM", the form dray stores. Only the shape is checked: whether the
//     location exists needs the UN/LOCODE directory, which this package
//     does not carry.
//   - SCAC: two to four uppercase ASCII letters. Only the shape is checked;
//     assignment is by the NMFTA register.
//
// The tables are snapshots (ISO 3166-1 and ISO 4217 as published at the
// start of 2026); updating one is a table edit plus a test case.
package codes

import "fmt"

// ValidCountry reports whether code is an officially assigned ISO 3166-1
// alpha-2 country code, e.g. "US", "GB", "DE" (but not "UK").
func ValidCountry(code string) bool {
	_, ok := countries[code]
	return ok
}

// ValidCurrency reports whether code is an active ISO 4217 currency code in
// which an amount can be stated, e.g. "USD", "JPY", "CLF".
func ValidCurrency(code string) bool {
	_, ok := currencies[code]
	return ok
}

// MinorUnits returns the number of decimal places ISO 4217 assigns to an
// active currency: USD 2, JPY 0, BHD 3, CLF 4. The boolean is false exactly
// when ValidCurrency(code) is false.
func MinorUnits(code string) (int, bool) {
	n, ok := currencies[code]
	return n, ok
}

// ValidUNLOCODE reports whether s is a UN/LOCODE in the canonical
// five-character form, e.g. "USMEM". "US MEM" is not canonical; pass it
// through NormalizeUNLOCODE first.
func ValidUNLOCODE(s string) bool {
	n, err := NormalizeUNLOCODE(s)
	return err == nil && n == s
}

// NormalizeUNLOCODE accepts "USMEM" or "US MEM" and returns "USMEM".
// A wrong shape or an unassigned country is a *UNLOCODEError.
func NormalizeUNLOCODE(s string) (string, error) {
	c := s
	if len(c) == 6 && c[2] == ' ' {
		c = c[:2] + c[3:]
	}
	if len(c) != 5 || !upper(c[0]) || !upper(c[1]) {
		return "", &UNLOCODEError{Value: s}
	}
	for i := 2; i < 5; i++ {
		if !upper(c[i]) && (c[i] < '2' || c[i] > '9') {
			return "", &UNLOCODEError{Value: s}
		}
	}
	if !ValidCountry(c[:2]) {
		return "", &UNLOCODEError{Value: s, UnknownCountry: true}
	}
	return c, nil
}

// ValidSCAC reports whether s has the shape of a Standard Carrier Alpha
// Code: two to four uppercase ASCII letters, e.g. "UPSN", "FXFE", "XMPL".
func ValidSCAC(s string) bool {
	if len(s) < 2 || len(s) > 4 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !upper(s[i]) {
			return false
		}
	}
	return true
}

// UNLOCODEError reports a value NormalizeUNLOCODE rejects.
type UNLOCODEError struct {
	Value string // the input, verbatim
	// UnknownCountry is set when the shape is right but the first two
	// letters are not an assigned ISO 3166-1 code.
	UnknownCountry bool
}

// Code returns "unlocode_country" for an unassigned country and
// "unlocode_shape" for anything else.
func (e *UNLOCODEError) Code() string {
	if e.UnknownCountry {
		return "unlocode_country"
	}
	return "unlocode_shape"
}

func (e *UNLOCODEError) Error() string {
	if e.UnknownCountry {
		return fmt.Sprintf("unlocode %q: %q is not an assigned ISO 3166-1 country code", e.Value, e.Value[:2])
	}
	return fmt.Sprintf("unlocode %q: want a country code and three characters of A-Z or 2-9, e.g. USMEM or US MEM", e.Value)
}

func upper(b byte) bool { return b >= 'A' && b <= 'Z' }

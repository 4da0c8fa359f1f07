// Package gs1 validates the GS1 identification keys that dray stores as
// plain digit strings: GTIN (trade items), SSCC (logistic units), GLN
// (parties and locations) and GSIN (shipments).
//
// Rules applied:
//
//   - A key is a string of ASCII digits '0'..'9' only. No spaces, dashes,
//     Application Identifier prefixes such as "(00)", or Unicode digits:
//     callers strip those at the boundary where they know the format.
//   - Length is fixed per key: GTIN 8, 12, 13 or 14; SSCC 18; GLN 13;
//     GSIN 17. The last digit is the GS1 mod-10 check digit, computed over
//     the other digits with weights 3, 1, 3, 1, … starting from the
//     rightmost payload digit.
//   - GTINs are stored as GTIN-14: NormalizeGTIN left-pads with zeros, which
//     leaves the check digit unchanged because padding zeros add nothing to
//     the weighted sum.
//
// Every failure is a *Error whose Code is one of the stable machine codes
// gs1_length, gs1_non_digit and gs1_check_digit.
package gs1

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Kind classifies why a value is not a valid key.
type Kind int

const (
	// KindLength means the value is empty or has a length the key does not allow.
	KindLength Kind = iota + 1
	// KindNonDigit means the value contains a byte other than '0'..'9'.
	KindNonDigit
	// KindCheckDigit means the last digit is not the check digit of the others.
	KindCheckDigit
)

// Error reports a value that is not a valid GS1 key or payload.
type Error struct {
	Kind   Kind
	Scheme string // "gtin", "sscc", "gln", "gsin", or "payload" for CheckDigit and Append
	Value  string // the rejected input, verbatim

	Lengths []int // KindLength: the lengths the scheme allows; nil means any non-zero length
	Offset  int   // KindNonDigit: byte offset of the first non-digit
	Got     byte  // KindCheckDigit: the check digit found
	Want    byte  // KindCheckDigit: the check digit computed from the payload
}

// Code returns the stable machine code for the kind of failure.
func (e *Error) Code() string {
	switch e.Kind {
	case KindLength:
		return "gs1_length"
	case KindNonDigit:
		return "gs1_non_digit"
	case KindCheckDigit:
		return "gs1_check_digit"
	}
	return "gs1_invalid"
}

func (e *Error) Error() string {
	prefix := fmt.Sprintf("%s %q: ", e.Scheme, e.Value)
	switch e.Kind {
	case KindLength:
		if e.Lengths == nil {
			return prefix + "empty"
		}
		return prefix + fmt.Sprintf("length %d, want %s digits", len(e.Value), joinLengths(e.Lengths))
	case KindNonDigit:
		if e.Offset < 0 || e.Offset >= len(e.Value) {
			return prefix + "non-digit"
		}
		r, _ := utf8.DecodeRuneInString(e.Value[e.Offset:])
		return prefix + fmt.Sprintf("non-digit %q at offset %d", r, e.Offset)
	case KindCheckDigit:
		return prefix + fmt.Sprintf("check digit is %c, want %c", e.Got, e.Want)
	}
	return prefix + "invalid"
}

// joinLengths renders {8, 12, 13, 14} as "8, 12, 13 or 14".
func joinLengths(ls []int) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprint(l)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

// CheckDigit returns the GS1 mod-10 check digit ('0'..'9') for payload,
// a non-empty string of ASCII digits of any length.
func CheckDigit(payload string) (byte, error) {
	if e := digitsOnly("payload", payload); e != nil {
		return 0, e
	}
	return checkDigit(payload), nil
}

// Append returns payload followed by its check digit.
func Append(payload string) (string, error) {
	c, err := CheckDigit(payload)
	if err != nil {
		return "", err
	}
	return payload + string(c), nil
}

var (
	gtinLengths = []int{8, 12, 13, 14}
	ssccLengths = []int{18}
	glnLengths  = []int{13}
	gsinLengths = []int{17}
)

// ValidateGTIN checks a GTIN-8, GTIN-12 (UPC-A), GTIN-13 (EAN-13) or GTIN-14.
func ValidateGTIN(s string) error { return validate("gtin", s, gtinLengths) }

// NormalizeGTIN validates s and returns it left-padded with zeros to the
// 14 digits of a GTIN-14, the form dray stores and compares.
func NormalizeGTIN(s string) (string, error) {
	if err := ValidateGTIN(s); err != nil {
		return "", err
	}
	return strings.Repeat("0", 14-len(s)) + s, nil
}

// ValidateSSCC checks an 18-digit Serial Shipping Container Code.
func ValidateSSCC(s string) error { return validate("sscc", s, ssccLengths) }

// ValidateGLN checks a 13-digit Global Location Number.
func ValidateGLN(s string) error { return validate("gln", s, glnLengths) }

// ValidateGSIN checks a 17-digit Global Shipment Identification Number.
func ValidateGSIN(s string) error { return validate("gsin", s, gsinLengths) }

// validate checks s against one scheme. lengths is a package-level slice
// (never a variadic literal: an error keeps it, which would allocate one per
// call on the happy path too).
func validate(scheme, s string, lengths []int) error {
	if e := digitsOnly(scheme, s); e != nil {
		if e.Kind == KindLength {
			e.Lengths = lengths
		}
		return e
	}
	ok := false
	for _, l := range lengths {
		ok = ok || len(s) == l
	}
	if !ok {
		return &Error{Kind: KindLength, Scheme: scheme, Value: s, Lengths: lengths}
	}
	payload, got := s[:len(s)-1], s[len(s)-1]
	if want := checkDigit(payload); got != want {
		return &Error{Kind: KindCheckDigit, Scheme: scheme, Value: s, Got: got, Want: want}
	}
	return nil
}

// digitsOnly reports an empty value as a length error before looking for
// non-digits, so that "" never reads as a character problem.
func digitsOnly(scheme, s string) *Error {
	if s == "" {
		return &Error{Kind: KindLength, Scheme: scheme, Value: s}
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return &Error{Kind: KindNonDigit, Scheme: scheme, Value: s, Offset: i}
		}
	}
	return nil
}

// checkDigit assumes payload is all ASCII digits.
func checkDigit(payload string) byte {
	sum := 0
	weight := 3
	for i := len(payload) - 1; i >= 0; i-- {
		sum += int(payload[i]-'0') * weight
		weight = 4 - weight
	}
	return byte('0' + (10-sum%10)%10)
}

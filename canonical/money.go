package canonical

import (
	"fmt"

	"github.com/draylink/dray/canonical/codes"
	"github.com/shopspring/decimal"
)

// MoneyOf makes money from a decimal, written with the currency's minor units
// (USD 2 → "1250.00", JPY 0 → "1250").
func MoneyOf(d decimal.Decimal, currency string) *Money {
	if mu, ok := codes.MinorUnits(currency); ok && int32(mu) >= -d.Exponent() {
		return &Money{Amount: d.StringFixed(int32(mu)), Currency: currency}
	}
	return &Money{Amount: d.String(), Currency: currency}
}

// Decimal parses the amount.
func (m *Money) Decimal() (decimal.Decimal, error) { return ParseDecimal(m.GetAmount()) }

// ParseImpliedDecimal reads an X12 "N" numeric with implied decimal places,
// e.g. 210 L1-04 "125000" with 2 places is 1250.00. Only an optional '-' and
// digits are allowed: an explicit decimal point in an N element is an error.
func ParseImpliedDecimal(s string, places int) (decimal.Decimal, error) {
	if places < 0 || places > 9 {
		return decimal.Decimal{}, fmt.Errorf("implied decimal %q: %d places out of range", s, places)
	}
	i := 0
	if len(s) > 0 && s[0] == '-' {
		i++
	}
	if i == len(s) || len(s) > MaxDecimalLen {
		return decimal.Decimal{}, &DecimalError{Value: s, Reason: "want an optional '-' and 1 to 40 digits"}
	}
	for j := i; j < len(s); j++ {
		if s[j] < '0' || s[j] > '9' {
			return decimal.Decimal{}, &DecimalError{Value: s, Reason: fmt.Sprintf("unexpected %q at offset %d in an implied-decimal number", s[j], j)}
		}
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, &DecimalError{Value: s, Reason: err.Error()}
	}
	return d.Shift(-int32(places)), nil
}

// ParseX12Real reads an X12 "R" (decimal) element, where the point is explicit
// and optional and a leading '-' is allowed: "1250", "1250.5", "-.5".
func ParseX12Real(s string) (decimal.Decimal, error) {
	norm := s
	switch {
	case len(s) > 1 && s[0] == '-' && s[1] == '.':
		norm = "-0" + s[1:]
	case len(s) > 0 && s[0] == '.':
		norm = "0" + s
	case len(s) > 0 && s[len(s)-1] == '.':
		norm = s[:len(s)-1]
	}
	d, err := ParseDecimal(norm)
	if err != nil {
		return decimal.Decimal{}, &DecimalError{Value: s, Reason: "not an X12 decimal (R) value"}
	}
	return d, nil
}

package canonical

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// MaxDecimalLen caps the length of a decimal string; longer values are refused
// before any arithmetic so hostile input cannot make big numbers.
const MaxDecimalLen = 40

// DecimalError is a malformed decimal string.
type DecimalError struct {
	Value  string
	Reason string
}

func (e *DecimalError) Error() string {
	return fmt.Sprintf("decimal %q: %s", truncate(e.Value, 48), e.Reason)
}

// Code is the stable error code.
func (e *DecimalError) Code() string { return "invalid_decimal" }

// ParseDecimal parses an exact decimal string as it travels in canonical
// events: an optional '-', one or more digits, and optionally '.' followed by
// one or more digits. No '+', exponent, spaces, thousands separators or
// leading '.'; at most MaxDecimalLen characters. Floats never enter the model.
func ParseDecimal(s string) (decimal.Decimal, error) {
	if err := checkDecimalSyntax(s); err != nil {
		return decimal.Decimal{}, err
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, &DecimalError{Value: s, Reason: err.Error()}
	}
	return d, nil
}

func checkDecimalSyntax(s string) error {
	switch {
	case s == "":
		return &DecimalError{Value: s, Reason: "empty"}
	case len(s) > MaxDecimalLen:
		return &DecimalError{Value: s, Reason: fmt.Sprintf("longer than %d characters", MaxDecimalLen)}
	}
	i := 0
	if s[0] == '-' {
		i++
	}
	digits := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if digits == 0 {
		return &DecimalError{Value: s, Reason: "want digits before any decimal point"}
	}
	if i == len(s) {
		return nil
	}
	if s[i] != '.' {
		return &DecimalError{Value: s, Reason: fmt.Sprintf("unexpected %q at offset %d", s[i], i)}
	}
	i++
	frac := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		frac++
	}
	if frac == 0 {
		return &DecimalError{Value: s, Reason: "want digits after the decimal point"}
	}
	if i != len(s) {
		return &DecimalError{Value: s, Reason: fmt.Sprintf("unexpected %q at offset %d", s[i], i)}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

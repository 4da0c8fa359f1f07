package refsink

import (
	"regexp"
	"testing"
)

// TestCodePatternsMatchRegexps checks the hand-written matchers against the
// regular expressions they replace.
func TestCodePatternsMatchRegexps(t *testing.T) {
	inputs := []string{"", "A", "EA", "KGM", "KGMS", "ea", "E1", "1", "123", "1234", "US", "USD", "XMPL", "XMPLE", "U S", "É", "A\x00",
		"0", "12", "12.5", "12.500", "+1", "-1.0", "1.", ".5", "+", "-", "1.2.3", "1e3", " 1", "1 ", "٣", "12,5", "+-1"}
	for _, c := range []struct {
		p  codePattern
		re string
	}{{codeUnit, `^[A-Z0-9]{1,3}$`}, {codeSCAC, `^[A-Z]{2,4}$`}, {codeCurrency, `^[A-Z]{3}$`}, {codeCountry, `^[A-Z]{2}$`}} {
		re := regexp.MustCompile(c.re)
		for _, s := range inputs {
			if got, want := c.p.match(s), re.MatchString(s); got != want {
				t.Errorf("%s: %q: %v, the regexp says %v", c.re, s, got, want)
			}
		}
	}
	re := regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?$`)
	for _, s := range inputs {
		if got, want := isDecimal(s), re.MatchString(s); got != want {
			t.Errorf("isDecimal(%q) = %v, the regexp says %v", s, got, want)
		}
	}
}

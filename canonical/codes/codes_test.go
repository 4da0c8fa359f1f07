package codes

import (
	"errors"
	"testing"
)

func TestValidCountry(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"US", true},
		{"GB", true},
		{"DE", true},
		{"CW", true},  // Curaçao, assigned 2010
		{"SS", true},  // South Sudan, assigned 2011
		{"XK", false}, // Kosovo: user-assigned, not official
		{"UK", false}, // exceptionally reserved; the country is GB
		{"EU", false},
		{"XX", false},
		{"AA", false},
		{"AN", false}, // Netherlands Antilles, withdrawn 2010
		{"YU", false},
		{"us", false},
		{"Us", false},
		{"USA", false},
		{"U", false},
		{"", false},
		{" US", false},
	}
	for _, tt := range tests {
		if got := ValidCountry(tt.code); got != tt.want {
			t.Errorf("ValidCountry(%q) = %v; want %v", tt.code, got, tt.want)
		}
	}
}

func TestCountryTable(t *testing.T) {
	if got, want := len(countries), 249; got != want {
		t.Errorf("len(countries) = %d; want %d", got, want)
	}
	for c := range countries {
		if len(c) != 2 || !upper(c[0]) || !upper(c[1]) {
			t.Errorf("malformed country code %q", c)
		}
	}
}

func TestCurrency(t *testing.T) {
	tests := []struct {
		code      string
		wantMinor int
		wantOK    bool
	}{
		{"USD", 2, true},
		{"EUR", 2, true},
		{"GBP", 2, true},
		{"JPY", 0, true},
		{"KRW", 0, true},
		{"ISK", 0, true},
		{"XAF", 0, true},
		{"BHD", 3, true},
		{"KWD", 3, true},
		{"TND", 3, true},
		{"CLF", 4, true},
		{"UYW", 4, true},
		{"UYI", 0, true},
		{"XCG", 2, true}, // replaced ANG in 2025
		{"ZWG", 2, true}, // replaced ZWL in 2024
		{"ANG", 0, false},
		{"ZWL", 0, false},
		{"HRK", 0, false},
		{"CUC", 0, false},
		{"BGN", 0, false},
		{"XAU", 0, false}, // gold has no minor units
		{"XDR", 0, false},
		{"XTS", 0, false},
		{"XXX", 0, false},
		{"usd", 0, false},
		{"US", 0, false},
		{"USDX", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		n, ok := MinorUnits(tt.code)
		if n != tt.wantMinor || ok != tt.wantOK {
			t.Errorf("MinorUnits(%q) = %d, %v; want %d, %v", tt.code, n, ok, tt.wantMinor, tt.wantOK)
		}
		if got := ValidCurrency(tt.code); got != tt.wantOK {
			t.Errorf("ValidCurrency(%q) = %v; want %v", tt.code, got, tt.wantOK)
		}
	}
}

func TestCurrencyTable(t *testing.T) {
	// A code listed under two minor-unit groups would collapse into one
	// entry and show up here as a short count.
	if got, want := len(currencies), 166; got != want {
		t.Errorf("len(currencies) = %d; want %d", got, want)
	}
	for c, n := range currencies {
		if len(c) != 3 || !upper(c[0]) || !upper(c[1]) || !upper(c[2]) {
			t.Errorf("malformed currency code %q", c)
		}
		if n < 0 || n > 4 {
			t.Errorf("MinorUnits(%q) = %d; want 0..4", c, n)
		}
	}
}

func TestNormalizeUNLOCODE(t *testing.T) {
	tests := []struct {
		in       string
		want     string
		wantCode string
	}{
		{"USMEM", "USMEM", ""},
		{"US MEM", "USMEM", ""},
		{"USATL", "USATL", ""},
		{"GBLON", "GBLON", ""},
		{"DEHAM", "DEHAM", ""},
		{"NLRTM", "NLRTM", ""},
		{"CNSH2", "CNSH2", ""}, // digits 2-9 are allowed in the location part
		{"US M9M", "USM9M", ""},
		{"usmem", "", "unlocode_shape"},
		{"US mem", "", "unlocode_shape"},
		{"USME", "", "unlocode_shape"},
		{"USMEMX", "", "unlocode_shape"},
		{"US  MEM", "", "unlocode_shape"},
		{"USM EM", "", "unlocode_shape"},
		{" USMEM", "", "unlocode_shape"},
		{"US-MEM", "", "unlocode_shape"},
		{"USME0", "", "unlocode_shape"}, // 0 reads as O and is not used
		{"USME1", "", "unlocode_shape"}, // 1 reads as I and is not used
		{"U1MEM", "", "unlocode_shape"},
		{"", "", "unlocode_shape"},
		{"XXMEM", "", "unlocode_country"},
		{"UKLON", "", "unlocode_country"},
		{"XZ ABC", "", "unlocode_country"},
	}
	for _, tt := range tests {
		got, err := NormalizeUNLOCODE(tt.in)
		if tt.wantCode == "" {
			if err != nil || got != tt.want {
				t.Errorf("NormalizeUNLOCODE(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
			}
			continue
		}
		var e *UNLOCODEError
		if !errors.As(err, &e) {
			t.Errorf("NormalizeUNLOCODE(%q) = %q, %v; want *UNLOCODEError", tt.in, got, err)
			continue
		}
		if e.Code() != tt.wantCode {
			t.Errorf("NormalizeUNLOCODE(%q) code = %s; want %s", tt.in, e.Code(), tt.wantCode)
		}
		if got != "" {
			t.Errorf("NormalizeUNLOCODE(%q) returned %q with an error", tt.in, got)
		}
	}
}

func TestUNLOCODEErrorText(t *testing.T) {
	_, err := NormalizeUNLOCODE("UKLON")
	if got, want := err.Error(), `unlocode "UKLON": "UK" is not an assigned ISO 3166-1 country code`; got != want {
		t.Errorf("Error() = %s; want %s", got, want)
	}
}

func TestValidUNLOCODE(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"USMEM", true},
		{"US MEM", false}, // valid input to NormalizeUNLOCODE, but not canonical
		{"usmem", false},
		{"XXMEM", false},
		{"USME0", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidUNLOCODE(tt.in); got != tt.want {
			t.Errorf("ValidUNLOCODE(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

func TestValidSCAC(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"UPSN", true},
		{"FXFE", true},
		{"XMPL", true},
		{"ABF", true},
		{"UP", true},
		{"U", false},
		{"UPSNX", false},
		{"upsn", false},
		{"UPS1", false},
		{"UP N", false},
		{"ÜPSN", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidSCAC(tt.in); got != tt.want {
			t.Errorf("ValidSCAC(%q) = %v; want %v", tt.in, got, tt.want)
		}
	}
}

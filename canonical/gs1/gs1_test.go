package gs1

import (
	"errors"
	"testing"
)

func TestCheckDigit(t *testing.T) {
	tests := []struct {
		payload string
		want    byte
	}{
		{"400638133393", '1'},      // GTIN-13 4006381333931
		{"10614141123456789", '7'}, // SSCC 106141411234567897 (GS1 General Specifications example)
		{"061414100001", '2'},      // GLN 0614141000012
		{"9638507", '4'},           // GTIN-8 96385074
		{"03600029145", '2'},       // UPC-A 036000291452
		{"0", '0'},
		{"1", '7'},
		{"00000000000000000", '0'},
	}
	for _, tt := range tests {
		got, err := CheckDigit(tt.payload)
		if err != nil {
			t.Errorf("CheckDigit(%q): %v", tt.payload, err)
			continue
		}
		if got != tt.want {
			t.Errorf("CheckDigit(%q) = %c; want %c", tt.payload, got, tt.want)
		}
	}
}

func TestCheckDigitErrors(t *testing.T) {
	tests := []struct {
		payload  string
		wantCode string
	}{
		{"", "gs1_length"},
		{"12a4", "gs1_non_digit"},
		{" 123", "gs1_non_digit"},
		{"١٢٣", "gs1_non_digit"}, // Arabic-Indic digits are not GS1 digits
	}
	for _, tt := range tests {
		_, err := CheckDigit(tt.payload)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("CheckDigit(%q) error = %v; want *Error", tt.payload, err)
			continue
		}
		if got := e.Code(); got != tt.wantCode {
			t.Errorf("CheckDigit(%q) code = %s; want %s", tt.payload, got, tt.wantCode)
		}
	}
}

func TestAppend(t *testing.T) {
	got, err := Append("10614141123456789")
	if err != nil {
		t.Fatal(err)
	}
	if want := "106141411234567897"; got != want {
		t.Errorf("Append = %q; want %q", got, want)
	}
	if _, err := Append("x"); err == nil {
		t.Error("Append(\"x\") succeeded; want error")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		validate func(string) error
		in       string
		wantCode string // "" means valid
	}{
		{"gtin-13", ValidateGTIN, "4006381333931", ""},
		{"gtin-8", ValidateGTIN, "96385074", ""},
		{"gtin-12", ValidateGTIN, "036000291452", ""},
		{"gtin-14", ValidateGTIN, "00012345678905", ""},
		{"gtin-14 pack level", ValidateGTIN, "10614141000415", ""},
		{"gtin wrong digit", ValidateGTIN, "4006381333932", "gs1_check_digit"},
		{"gtin transposed", ValidateGTIN, "4006381339331", "gs1_check_digit"},
		{"gtin length 9", ValidateGTIN, "963850740", "gs1_length"},
		{"gtin length 11", ValidateGTIN, "03600029145", "gs1_length"},
		{"gtin empty", ValidateGTIN, "", "gs1_length"},
		{"gtin letters", ValidateGTIN, "40063813339A1", "gs1_non_digit"},
		{"gtin spaces", ValidateGTIN, "4006381 333931", "gs1_non_digit"},
		{"gtin AI prefix", ValidateGTIN, "(01)4006381333931", "gs1_non_digit"},
		{"sscc", ValidateSSCC, "106141411234567897", ""},
		{"sscc extension digit 0", ValidateSSCC, "006141411234567890", ""},
		{"sscc wrong digit", ValidateSSCC, "106141411234567898", "gs1_check_digit"},
		{"sscc as gtin length", ValidateSSCC, "10614141123456789", "gs1_length"},
		{"sscc with AI", ValidateSSCC, "00106141411234567897", "gs1_length"},
		{"gln", ValidateGLN, "0614141000012", ""},
		{"gln other", ValidateGLN, "0614141000036", ""},
		{"gln wrong digit", ValidateGLN, "0614141000013", "gs1_check_digit"},
		{"gln length", ValidateGLN, "061414100001", "gs1_length"},
		{"gsin", ValidateGSIN, "06141411234567890", ""},
		{"gsin wrong digit", ValidateGSIN, "06141411234567891", "gs1_check_digit"},
		{"gsin length", ValidateGSIN, "0614141123456789", "gs1_length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.validate(tt.in)
			if tt.wantCode == "" {
				if err != nil {
					t.Errorf("validate(%q) = %v; want nil", tt.in, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("validate(%q) = %v; want *Error", tt.in, err)
			}
			if got := e.Code(); got != tt.wantCode {
				t.Errorf("validate(%q) code = %s; want %s (%v)", tt.in, got, tt.wantCode, err)
			}
			if e.Value != tt.in {
				t.Errorf("Error.Value = %q; want %q", e.Value, tt.in)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{ValidateGTIN("00012345678906"), `gtin "00012345678906": check digit is 6, want 5`},
		{ValidateGTIN("123"), `gtin "123": length 3, want 8, 12, 13 or 14 digits`},
		{ValidateGTIN(""), `gtin "": length 0, want 8, 12, 13 or 14 digits`},
		{ValidateSSCC("1234"), `sscc "1234": length 4, want 18 digits`},
		{ValidateGLN("06141410000é2"), `gln "06141410000é2": non-digit 'é' at offset 11`},
		{func() error { _, err := CheckDigit(""); return err }(), `payload "": empty`},
	}
	for _, tt := range tests {
		if tt.err == nil {
			t.Errorf("got nil error; want %q", tt.want)
			continue
		}
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %s; want %s", got, tt.want)
		}
	}
}

func TestNormalizeGTIN(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"96385074", "00000096385074"},
		{"036000291452", "00036000291452"},
		{"4006381333931", "04006381333931"},
		{"10614141000415", "10614141000415"},
	}
	for _, tt := range tests {
		got, err := NormalizeGTIN(tt.in)
		if err != nil {
			t.Errorf("NormalizeGTIN(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("NormalizeGTIN(%q) = %q; want %q", tt.in, got, tt.want)
		}
		if err := ValidateGTIN(got); err != nil {
			t.Errorf("normalized %q does not validate: %v", got, err)
		}
	}
	if _, err := NormalizeGTIN("4006381333932"); err == nil {
		t.Error("NormalizeGTIN accepted a bad check digit")
	}
}

// FuzzCheckDigit checks that Append always produces a value whose check
// digit verifies, and that every GS1 key of the matching length accepts it.
func FuzzCheckDigit(f *testing.F) {
	for _, s := range []string{"", "0", "400638133393", "10614141123456789", "12a", "9999999999999999999999"} {
		f.Add(s)
	}
	validators := map[int][]func(string) error{
		8:  {ValidateGTIN},
		12: {ValidateGTIN},
		13: {ValidateGTIN, ValidateGLN},
		14: {ValidateGTIN},
		17: {ValidateGSIN},
		18: {ValidateSSCC},
	}
	f.Fuzz(func(t *testing.T, payload string) {
		full, err := Append(payload)
		if !allDigits(payload) {
			var e *Error
			if !errors.As(err, &e) || (e.Kind != KindNonDigit && e.Kind != KindLength) {
				t.Fatalf("Append(%q) error = %v; want length or non-digit *Error", payload, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Append(%q): %v", payload, err)
		}
		if err := validate("payload", full, []int{len(full)}); err != nil {
			t.Fatalf("Append(%q) = %q does not verify: %v", payload, full, err)
		}
		for _, v := range validators[len(full)] {
			if err := v(full); err != nil {
				t.Fatalf("Append(%q) = %q: %v", payload, full, err)
			}
		}
		// Any other last digit must fail: mod 10 catches every single-digit error.
		last := full[len(full)-1]
		wrong := full[:len(full)-1] + string('0'+(last-'0'+1)%10)
		if err := validate("payload", wrong, []int{len(wrong)}); err == nil {
			t.Fatalf("%q verified with a wrong check digit", wrong)
		}
	})
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

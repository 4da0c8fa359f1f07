package canonical_test

import (
	"errors"
	"testing"

	. "github.com/draylink/dray/canonical"
	"github.com/shopspring/decimal"
)

type coded interface{ Code() string }

func codeOfErr(err error) string {
	var c coded
	if errors.As(err, &c) {
		return c.Code()
	}
	return ""
}

func TestParseDecimal(t *testing.T) {
	good := map[string]string{"0": "0", "12.500": "12.5", "-1": "-1", "007": "7", "0.000001": "0.000001",
		"123456789012345678901234567890.5": "123456789012345678901234567890.5"}
	for in, want := range good {
		d, err := ParseDecimal(in)
		if err != nil || d.String() != want {
			t.Errorf("ParseDecimal(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
	for _, in := range []string{"", "+1", "1.", ".5", "1e3", "1,5", " 1", "1 ", "--1", "-", "0x10", "NaN", "Infinity", "1.2.3", "١٢", "12345678901234567890123456789012345678901"} {
		if _, err := ParseDecimal(in); err == nil || codeOfErr(err) != "invalid_decimal" {
			t.Errorf("ParseDecimal(%q) err = %v; want invalid_decimal", in, err)
		}
	}
}

func TestImpliedDecimalMoney(t *testing.T) {
	tests := []struct {
		in     string
		places int
		want   string
	}{
		{"125000", 2, "1250"}, {"125050", 2, "1250.5"}, {"-4500", 2, "-45"}, {"7", 2, "0.07"}, {"125000", 0, "125000"},
	}
	for _, tt := range tests {
		d, err := ParseImpliedDecimal(tt.in, tt.places)
		if err != nil || d.String() != tt.want {
			t.Errorf("ParseImpliedDecimal(%q, %d) = %v, %v; want %s", tt.in, tt.places, d, err, tt.want)
		}
	}
	if m := MoneyOf(mustDec(t, "1250"), "USD"); m.GetAmount() != "1250.00" {
		t.Errorf("MoneyOf USD = %s; want 1250.00", m.GetAmount())
	}
	if m := MoneyOf(mustDec(t, "1250"), "JPY"); m.GetAmount() != "1250" {
		t.Errorf("MoneyOf JPY = %s", m.GetAmount())
	}
	if m := MoneyOf(mustDec(t, "1.2345"), "USD"); m.GetAmount() != "1.2345" {
		t.Errorf("MoneyOf must not round away precision: %s", m.GetAmount())
	}
	for _, in := range []string{"1250.00", "", "-", "12a", "+5"} {
		if _, err := ParseImpliedDecimal(in, 2); err == nil {
			t.Errorf("ParseImpliedDecimal(%q) accepted", in)
		}
	}
	for in, want := range map[string]string{"1250": "1250", "1250.5": "1250.5", ".5": "0.5", "-.5": "-0.5", "5.": "5"} {
		if d, err := ParseX12Real(in); err != nil || d.String() != want {
			t.Errorf("ParseX12Real(%q) = %v, %v; want %s", in, d, err, want)
		}
	}
}

func mustDec(t *testing.T, s string) decimal.Decimal {
	t.Helper()
	d, err := ParseDecimal(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// rice is sold in eaches of 1 kg bags, cases of 12 and pallets of 40 cases;
// AF-3300 in the fixtures is weighed (base unit KGM).
func cannedItem() *Item {
	return &Item{OwnerId: "ACME", Sku: "AF-1001", BaseUom: "EA", Packs: []*Pack{
		{Uom: "EA", Gtin: "00614141010011", QtyInBase: "1"},
		{Uom: "XCS", Gtin: "10614141001016", QtyInBase: "12"},
		{Uom: "XPX", Gtin: "20614141001013", QtyInBase: "480"},
	}}
}

func TestPackConversion(t *testing.T) {
	it := cannedItem()
	rice := &Item{OwnerId: "ACME", Sku: "AF-3300", BaseUom: "KGM", Packs: []*Pack{{Uom: "XBG", QtyInBase: "25"}}}
	tests := []struct {
		name     string
		item     *Item
		q        *Quantity
		to       string
		want     string
		wantCode string
	}{
		{"cases to eaches", it, Qty("24", "XCS"), "EA", "288 EA", ""},
		{"pallets to eaches", it, Qty("2", "XPX"), "EA", "960 EA", ""},
		{"pallets to cases", it, Qty("2", "XPX"), "XCS", "80 XCS", ""},
		{"eaches to cases, exact", it, Qty("36", "EA"), "XCS", "3 XCS", ""},
		{"H87 is an each", it, Qty("24", "H87"), "EA", "24 EA", ""},
		{"eaches to cases, inexact", it, Qty("30", "EA"), "XCS", "", "inexact_conversion"},
		{"fractional cases to eaches", it, Qty("1.5", "XCS"), "EA", "18 EA", ""},
		{"fractional eaches", it, Qty("0.5", "EA"), "EA", "", "fractional_each"},
		{"fraction of a case that is not whole eaches", it, Qty("0.1", "XCS"), "EA", "", "fractional_each"},
		{"unit not in hierarchy", it, Qty("3", "XBX"), "EA", "", "uom_not_in_pack_hierarchy"},
		{"mass to an eaches item", it, Qty("3", "KGM"), "EA", "", "uom_not_in_pack_hierarchy"},
		{"decimal kilograms", rice, Qty("12.500", "KGM"), "KGM", "12.5 KGM", ""},
		{"pounds to kilograms", rice, Qty("2", "LBR"), "KGM", "0.90718474 KGM", ""},
		{"bags to kilograms", rice, Qty("3", "XBG"), "KGM", "75 KGM", ""},
		{"kilograms to bags, inexact", rice, Qty("30", "KGM"), "XBG", "", "inexact_conversion"},
		{"bad value", it, Qty("1,5", "XCS"), "EA", "", "invalid_decimal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.item.Convert(tt.q, tt.to)
			if tt.wantCode != "" {
				if codeOfErr(err) != tt.wantCode {
					t.Fatalf("err = %v (code %q); want %s", err, codeOfErr(err), tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := got.GetValue() + " " + got.GetUom(); s != tt.want {
				t.Errorf("got %s; want %s", s, tt.want)
			}
		})
	}
}

func TestMixedUnitTotal(t *testing.T) {
	it := cannedItem()
	got, err := it.SumIn("EA", Qty("1", "XPX"), Qty("2", "XCS"), Qty("5", "EA"))
	if err != nil || got.GetValue() != "509" {
		t.Fatalf("sum = %v, %v; want 509 EA", got, err)
	}
	if _, err := it.SumIn("XCS", Qty("1", "XCS"), Qty("5", "EA")); codeOfErr(err) != "inexact_conversion" {
		t.Fatalf("err = %v; want inexact_conversion", err)
	}
}

func TestWrongLevelGTIN(t *testing.T) {
	it := cannedItem()
	if err := it.CheckGTINLevel("10614141001016", "XCS"); err != nil {
		t.Errorf("case GTIN with cases: %v", err)
	}
	if err := it.CheckGTINLevel("0614141010011", "EA"); err != nil {
		t.Errorf("GTIN-13 form of the each GTIN: %v", err)
	}
	if err := it.CheckGTINLevel("10614141001016", "EA"); codeOfErr(err) != "gtin_level_mismatch" {
		t.Errorf("case GTIN with eaches: err = %v; want gtin_level_mismatch", err)
	}
	if err := it.CheckGTINLevel("00614141020508", "EA"); codeOfErr(err) != "gtin_unknown" {
		t.Errorf("other item's GTIN: err = %v; want gtin_unknown", err)
	}
}

func TestItemValidation(t *testing.T) {
	it := cannedItem()
	if err := ValidateMessage(it); err != nil {
		t.Fatalf("valid item: %v", err)
	}
	it.Packs = append(it.Packs, &Pack{Uom: "XBX", QtyInBase: "2.5"}, &Pack{Uom: "XCS", QtyInBase: "6"})
	var ve *ValidationError
	if err := ValidateMessage(it); !errors.As(err, &ve) || len(ve.Problems) != 2 ||
		ve.Problems[0].Path != "packs[3].qtyInBase" || ve.Problems[0].Code != "fractional_each" ||
		ve.Problems[1].Path != "packs[4].uom" || ve.Problems[1].Code != "duplicate_pack" {
		t.Fatalf("err = %v; want fractional_each at packs[3] and duplicate_pack at packs[4]", err)
	}
	// A pack of 2.5 eaches still converts exactly where the result is whole.
	it = cannedItem()
	it.Packs = append(it.Packs, &Pack{Uom: "XBX", QtyInBase: "2.5"})
	if q, err := it.Convert(Qty("2", "XBX"), "EA"); err != nil || q.GetValue() != "5" {
		t.Fatalf("2 boxes of 2.5 = %v, %v; want 5 EA", q, err)
	}
	if _, err := it.Convert(Qty("1", "XBX"), "EA"); codeOfErr(err) != "fractional_each" {
		t.Fatalf("1 box of 2.5 EA: err = %v; want fractional_each", err)
	}
}

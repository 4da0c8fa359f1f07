package movement

import (
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/canonical/localtime"
)

func site(t *testing.T) Site {
	t.Helper()
	z, err := localtime.LoadZone("America/Chicago")
	if err != nil {
		t.Fatal(err)
	}
	item := &canonical.Item{OwnerId: "ACME", Sku: "AF-1002", BaseUom: "EA", Packs: []*canonical.Pack{
		{Uom: "XCS", Gtin: "10614141001023", QtyInBase: "12"}, {Uom: "XPX", QtyInBase: "480"}}}
	return Site{Origin: canonical.Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:file:test", SourceSystem: "file.csv"},
		Zone: z, Owner: "ACME", Items: map[string]*canonical.Item{ItemKey("ACME", "AF-1002"): item}}
}

func row(kv ...string) *Row {
	r := &Row{Ref: "t.csv:2", Raw: []byte(strings.Join(kv, ","))}
	for i := 0; i+1 < len(kv); i += 2 {
		f, ok := FieldByName(kv[i])
		if !ok {
			panic(kv[i])
		}
		r.Values[f] = kv[i+1]
	}
	return r
}

func TestMap(t *testing.T) {
	cfg := Config{
		Types:        map[string]TypeRule{"IN": {Event: "moved", Movement: "receipt"}, "ADJ": {Event: "moved", Movement: "adjustment"}, "CC": {Event: "counted"}},
		DecimalComma: true,
	}
	m, errs := New(cfg, site(t))
	if errs != nil {
		t.Fatal(errs)
	}
	base := []string{"id", "1", "type", "IN", "occurred_at", "2025-11-02 01:30:00", "sku", "AF-1002", "uom", "CA", "to", "R-1"}
	tests := []struct {
		name     string
		kv       []string
		code     string
		qty, rcv string
		warn     bool
	}{
		{"cases to eaches, fall-back hour", append(base, "qty", "2"), "", "24 EA", "2 XCS", true},
		{"decimal comma", append(base, "qty", "0,5"), "", "6 EA", "0.5 XCS", true},
		{"a point is ambiguous", append(base, "qty", "1.000"), CodeBadNumber, "", "", false},
		{"pallet", []string{"id", "2", "type", "IN", "occurred_at", "2025-03-14 06:00:00", "sku", "AF-1002", "uom", "PL", "qty", "1", "to", "R-1", "gtin", "10614141001023"}, "", "480 EA", "1 XPX", false},
		{"unknown item passes unconverted", []string{"id", "3", "type", "IN", "occurred_at", "2025-03-14 06:00:00", "sku", "ZZ-9", "uom", "KG", "qty", "1,25", "to", "R-1"}, "", "1.25 KGM", "", false},
		{"reversal", []string{"id", "4", "type", "ADJ", "occurred_at", "2025-03-14 06:00:00", "sku", "AF-1002", "uom", "EA", "qty", "-1", "from", "R-1", "reverses", "3"}, "", "1 EA", "", false},
		{"gap", []string{"id", "5", "type", "IN", "occurred_at", "2025-03-09 02:30:00", "sku", "AF-1002", "uom", "EA", "qty", "1", "to", "R-1"}, "time_nonexistent", "", "", false},
		{"negative count", []string{"id", "6", "type", "CC", "occurred_at", "2025-03-14 06:00:00", "sku", "AF-1002", "uom", "EA", "qty", "-1", "to", "R-1"}, CodeNegative, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := m.Map(row(tt.kv...))
			if tt.code != "" {
				if res.Reject == nil || res.Reject.Code != tt.code {
					t.Fatalf("got %+v; want reject %s", res.Reject, tt.code)
				}
				return
			}
			if res.Reject != nil {
				t.Fatalf("reject %+v", res.Reject)
			}
			if (res.Warning != nil) != tt.warn {
				t.Errorf("warning %+v; want %v", res.Warning, tt.warn)
			}
			mv := res.Event.GetInventoryMoved().GetMovement()
			q := func(x *canonical.Quantity) string {
				if x == nil {
					return ""
				}
				return x.GetValue() + " " + x.GetUom()
			}
			if q(mv.GetQuantity()) != tt.qty || q(mv.GetReceivedQuantity()) != tt.rcv {
				t.Errorf("quantity %s, received %s; want %s, %s", q(mv.GetQuantity()), q(mv.GetReceivedQuantity()), tt.qty, tt.rcv)
			}
		})
	}
	// The earlier of the two 01:30s of 2025-11-02 in Chicago is CDT.
	res := m.Map(row(append(base, "qty", "1")...))
	if got := res.Event.GetTime().AsTime(); !got.Equal(time.Date(2025, 11, 2, 6, 30, 0, 0, time.UTC)) || res.Event.GetOccurredOffset() != "-05:00" {
		t.Errorf("fall-back time = %s %s; want 06:30Z -05:00", got, res.Event.GetOccurredOffset())
	}
	// The same row gives the same id, another version another.
	a, b := m.Map(row(append(base, "qty", "1")...)), m.Map(row(append(base, "qty", "1", "version", "7")...))
	if a.Event.GetId() != m.Map(row(append(base, "qty", "1")...)).Event.GetId() || a.Event.GetId() == b.Event.GetId() {
		t.Error("ids are not stable per record version")
	}
}

func TestConfigProblems(t *testing.T) {
	_, errs := New(Config{
		Types:            map[string]TypeRule{"A": {Event: "moved", Movement: "warp"}, "B": {Event: "counted", Movement: "pick"}},
		Reasons:          map[string]ReasonRule{"R": {From: "available", To: "available"}},
		Extract:          map[string]ExtractRule{"expected": {From: "note", Pattern: "no group"}, "colour": {From: "note", Pattern: "(x)"}},
		Defaults:         map[string]string{"weight": "1"},
		TimeLayout:       "2006-01-02T15:04:05Z07:00",
		NegativeQuantity: "flip",
	}, site(t))
	var paths []string
	for _, e := range errs {
		paths = append(paths, e.Path)
	}
	for _, want := range []string{"types.A.movement", "types.B.movement", "reasons.R", "extract.expected.pattern", "extract.colour", "defaults.weight", "time_layout", "negative_quantity"} {
		found := false
		for _, p := range paths {
			found = found || p == want
		}
		if !found {
			t.Errorf("no problem at %s; got %v", want, errs)
		}
	}
}

package x12map

import (
	"crypto/sha256"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
)

func input(t testing.TB, c string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + c + "/input.edi")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mapFile(t testing.TB, data []byte) Result {
	t.Helper()
	ic, err := x12.Parse(data)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	res, err := Map(testConfig(), ic)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestFixture214(t *testing.T) {
	res := mapFile(t, input(t, "fixture_214"))
	if len(res.Rejects) != 0 || len(res.Events) != 6 {
		t.Fatalf("%d events, rejects %v; want 6 and none", len(res.Events), res.Rejects)
	}
	byCode := map[string]*canonical.Event{}
	for _, e := range res.Events {
		if s := e.GetShipmentStatusChanged(); s != nil {
			byCode[s.GetSourceStatusCode()] = e
		}
	}

	// AF at 20250314 1548 LT in Memphis TN is 15:48 CDT.
	af := byCode["AF"]
	if got := af.GetTime().AsTime(); !got.Equal(time.Date(2025, 3, 14, 20, 48, 0, 0, time.UTC)) || af.GetOccurredOffset() != "-05:00" {
		t.Errorf("AF at %v offset %s; want 2025-03-14T20:48:00Z -05:00", got, af.GetOccurredOffset())
	}
	s := af.GetShipmentStatusChanged()
	if s.GetMilestone() != canonical.Milestone_MILESTONE_DEPARTED_PICKUP || s.GetStatus() != canonical.ShipmentStatus_SHIPMENT_STATUS_IN_TRANSIT ||
		s.GetStopSeq() != 1 || s.GetLocation().GetCity() != "MEMPHIS" || s.GetCarrier().GetScac() != "XMPL" || s.GetPro() != "7781204556" || s.GetBol() != "06141410000123452" {
		t.Errorf("AF data = %v", s)
	}
	if af.GetSourceRef() != "ISA13=000007731;GS06=7731;ST02=0002" || af.GetSource() != "urn:dray:MEM1:edi:XMPL" || af.GetSourceSystem() != "edi.x12.214" {
		t.Errorf("AF envelope: %s %s %s", af.GetSource(), af.GetSourceSystem(), af.GetSourceRef())
	}

	// The same departure reported by the WMS has the same idempotency key.
	wms := canonical.Origin{SiteID: "MEM1", Source: "urn:dray:MEM1:wms-db", SourceSystem: "wms.db"}
	chicagoDeparture := time.Date(2025, 3, 14, 15, 48, 0, 0, chicago)
	w, err := canonical.NewEvent(wms, canonical.Record{Key: "shipment/SHP25031407/departed", Version: "7"}, chicagoDeparture,
		&canonical.ShipmentStatusChanged{ShipmentId: "SHP25031407", Milestone: canonical.Milestone_MILESTONE_DEPARTED_PICKUP})
	if err != nil {
		t.Fatal(err)
	}
	if w.GetIdempotencyKey() != af.GetIdempotencyKey() || w.GetId() == af.GetId() {
		t.Errorf("WMS key %s id %s, 214 key %s id %s: want the same key and different ids",
			w.GetIdempotencyKey(), w.GetId(), af.GetIdempotencyKey(), af.GetId())
	}

	// SD is an exception flag with its reason, not a status.
	sd := byCode["SD"].GetShipmentStatusChanged()
	if !sd.GetException() || sd.GetExceptionReason() != "SEVERE WEATHER I-20 EB HOLDING" || sd.GetReasonCode() != "AO" ||
		sd.GetStatus() != canonical.ShipmentStatus_SHIPMENT_STATUS_UNSPECIFIED || sd.GetLocation().GetCity() != "BIRMINGHAM" {
		t.Errorf("SD = %v", sd)
	}
	if got := byCode["SD"].GetTime().AsTime(); !got.Equal(time.Date(2025, 3, 15, 7, 10, 0, 0, time.UTC)) {
		t.Errorf("SD at %v (Birmingham AL is Central)", got)
	}

	// D1 with "POD SIGNED M OKAFOR" is also a delivery confirmation at stop 2, Atlanta time.
	var pod *canonical.DeliveryConfirmation
	for _, e := range res.Events {
		if d := e.GetDeliveryConfirmed(); d != nil {
			pod = d.GetDelivery()
		}
	}
	if pod == nil || pod.GetSignedBy() != "M OKAFOR" || pod.GetStopSeq() != 2 ||
		!pod.GetDeliveredAt().AsTime().Equal(time.Date(2025, 3, 15, 13, 25, 0, 0, time.UTC)) {
		t.Errorf("POD = %v", pod)
	}
	if d1 := byCode["D1"]; d1.GetOccurredOffset() != "-04:00" || d1.GetShipmentStatusChanged().GetStopSeq() != 2 {
		t.Errorf("D1 offset %s stop %d; want -04:00 (EDT) and 2", d1.GetOccurredOffset(), d1.GetShipmentStatusChanged().GetStopSeq())
	}
}

func TestFixture945ShortLine(t *testing.T) {
	res := mapFile(t, input(t, "fixture_945"))
	if len(res.Rejects) != 0 || len(res.Events) != 4 {
		t.Fatalf("%d events, rejects %v; want 4 and none", len(res.Events), res.Rejects)
	}
	sh := res.Events[0].GetShipmentShipped()
	if sh == nil || len(sh.GetLines()) != 3 || len(sh.GetShipment().GetHandlingUnits()) != 2 {
		t.Fatalf("shipment.shipped = %v", res.Events[0])
	}
	l2 := sh.GetLines()[1]
	if l2.GetLineNo() != "2" || l2.GetStatus() != canonical.OrderLineStatus_ORDER_LINE_STATUS_SHORT_SHIPPED ||
		l2.GetOrdered().GetValue() != "10" || l2.GetShipped().GetValue() != "8" || l2.GetShipped().GetUom() != "XCS" ||
		!reflect.DeepEqual(l2.GetSsccs(), []string{"006141410000045020"}) || l2.GetItem().GetLot() != "L2502C" {
		t.Errorf("line 2 = %v", l2)
	}
	ls := res.Events[2].GetOrderLineStatusChanged()
	q := ls.GetQuantities()
	if ls.GetLineNo() != "2" || ls.GetStatus() != canonical.OrderLineStatus_ORDER_LINE_STATUS_SHORT_SHIPPED ||
		q.GetShortClosed().GetValue() != "2" || q.GetBackordered() != nil || ls.GetReasonCode() != "CP" {
		t.Errorf("order_line.status_changed line 2 = %v", ls)
	}
	if got := res.Events[0].GetTime().AsTime(); !got.Equal(time.Date(2025, 3, 14, 20, 42, 0, 0, time.UTC)) {
		t.Errorf("shipped at %v; want G62 11 15:42 CDT", got)
	}
	for _, e := range res.Events {
		if e.GetCorrelationId() != "order:ACME:SO-778812" {
			t.Errorf("%s correlation %q", e.GetType(), e.GetCorrelationId())
		}
	}

	// BP instead of CP: the remainder is backordered, not closed.
	bp := mapFile(t, []byte(strings.Replace(string(input(t, "fixture_945")), "W12*CP*", "W12*BP*", 1)))
	if len(bp.Rejects) != 0 {
		t.Fatal(bp.Rejects)
	}
	ls = bp.Events[2].GetOrderLineStatusChanged()
	if ls.GetStatus() != canonical.OrderLineStatus_ORDER_LINE_STATUS_BACKORDERED || ls.GetQuantities().GetBackordered().GetValue() != "2" ||
		ls.GetQuantities().GetShortClosed() != nil {
		t.Errorf("BP line = %v", ls)
	}
}

// TestSplitLine maps a line shipped on two pallets (two W12 with one N9 LI).
func TestSplitLine(t *testing.T) {
	s := string(input(t, "fixture_945"))
	s = strings.Replace(s, "W12*CC*20*20*0*CA**VN*AF-1001*L2503A********UK*10614141001016~\nN9*LT*L2503A~",
		"W12*CC*20*12**CA**VN*AF-1001*L2503A********UK*10614141001016~\nN9*LI*1~", 1)
	s = strings.Replace(s, "LX*2~\nMAN*GM*006141410000045020~\n",
		"LX*2~\nMAN*GM*006141410000045020~\nW12*CC*20*8**CA**VN*AF-1001*L2503A********UK*10614141001016~\nN9*LI*1~\n", 1)
	s = strings.Replace(s, "SE*23*0001", "SE*25*0001", 1)
	s = strings.Replace(s, "W12*CP*10*8*2*CA**VN*AF-1002*L2502C********UK*10614141001023~\nN9*LT*L2502C~",
		"W12*CP*10*8*2*CA**VN*AF-1002*L2502C********UK*10614141001023~\nN9*LI*2~", 1)
	s = strings.Replace(s, "W12*CC*24*24*0*EA**VN*AF-2050*********UK*00614141020508~", "W12*CC*24*24*0*EA**VN*AF-2050*********UK*00614141020508~\nN9*LI*3~", 1)
	s = strings.Replace(s, "SE*25*0001", "SE*26*0001", 1)
	res := mapFile(t, []byte(s))
	if len(res.Rejects) != 0 {
		t.Fatalf("rejects: %v", res.Rejects)
	}
	lines := res.Events[0].GetShipmentShipped().GetLines()
	if len(lines) != 3 {
		t.Fatalf("%d lines; want 3", len(lines))
	}
	l1 := lines[0]
	if l1.GetLineNo() != "1" || l1.GetShipped().GetValue() != "20" || l1.GetStatus() != canonical.OrderLineStatus_ORDER_LINE_STATUS_SHIPPED ||
		!reflect.DeepEqual(l1.GetSsccs(), []string{"006141410000045013", "006141410000045020"}) {
		t.Errorf("split line = %v", l1)
	}
	hus := res.Events[0].GetShipmentShipped().GetShipment().GetHandlingUnits()
	if n := len(hus[1].GetContents()); n != 3 {
		t.Errorf("second pallet holds %d contents; want 3", n)
	}
}

// set945 is the fixture's 945 with its detail (LX … W12 … N9 …) replaced by
// detail and W03-01 by units; the SE count follows.
func set945(t *testing.T, detail []string, units string) []byte {
	t.Helper()
	s := string(input(t, "fixture_945"))
	head := s[:strings.Index(s, "LX*1~")]
	tail := s[strings.Index(s, "SE*"):]
	tail = tail[strings.Index(tail, "~")+1:]
	body := head + strings.Join(detail, "~\n") + "~\nW03*" + units + "*1385*LB~\n"
	n := strings.Count(body[strings.Index(body, "ST*945"):], "~") + 1
	return []byte(body + "SE*" + strconv.Itoa(n) + "*0001~" + tail)
}

// TestSplitLineAfterRenumberedLine: lines 1 and 3 (no line 2), line 3 on
// two pallets. The second W12 of line 3 is the set's third W12; its
// position number must not displace the first part of line 3 (numbered 3
// by N9 LI) before its own N9 LI says it is line 3 too.
func TestSplitLineAfterRenumberedLine(t *testing.T) {
	const (
		l1 = "W12*CC*20*20*0*CA**VN*AF-1001*L2503A********UK*10614141001016"
		l3 = "W12*CC*10*%s**CA**VN*AF-1002*L2502C********UK*10614141001023"
	)
	res := mapFile(t, set945(t, []string{
		"LX*1", "MAN*GM*006141410000045013", l1, "N9*LI*1", fmt.Sprintf(l3, "6"), "N9*LI*3",
		"LX*2", "MAN*GM*006141410000045020", fmt.Sprintf(l3, "4"), "N9*LI*3",
	}, "30"))
	if len(res.Rejects) != 0 {
		t.Fatalf("rejects: %v", res.Rejects)
	}
	lines := res.Events[0].GetShipmentShipped().GetLines()
	if len(lines) != 2 || len(res.Events) != 3 {
		t.Fatalf("%d lines, %d events; want 2 lines (1 and 3), 3 events", len(lines), len(res.Events))
	}
	l := lines[1]
	if l.GetLineNo() != "3" || l.GetShipped().GetValue() != "10" || l.GetStatus() != canonical.OrderLineStatus_ORDER_LINE_STATUS_SHIPPED ||
		!reflect.DeepEqual(l.GetSsccs(), []string{"006141410000045013", "006141410000045020"}) {
		t.Errorf("line 3 = %v; want 10 shipped complete on both pallets", l)
	}
	if got := res.Events[2].GetOrderLineStatusChanged().GetLineNo(); got != "3" {
		t.Errorf("second order_line.status_changed is line %q; want 3", got)
	}
}

// TestLineNumbering: W12s without N9 LI take their position; a set that
// numbers some W12s so that two lines get one number is rejected (two
// lines with one number would be one event id).
func TestLineNumbering(t *testing.T) {
	const w12 = "W12*CC*1*1**EA**VN*AF-2050*********UK*00614141020508"
	tests := []struct {
		name   string
		detail []string
		lines  []string // want, or nil for a reject
		code   string
	}{
		{"no N9 LI", []string{"LX*1", w12, w12, "LX*2", w12}, []string{"1", "2", "3"}, ""},
		{"all N9 LI", []string{"LX*1", w12, "N9*LI*10", w12, "N9*LI*20"}, []string{"10", "20"}, ""},
		{"position taken by an N9 LI before", []string{"LX*1", w12, "N9*LI*2", w12}, nil, CodeMissing},
		{"N9 LI names a position taken before", []string{"LX*1", w12, w12, "N9*LI*1"}, nil, CodeMissing},
		{"two N9 LI", []string{"LX*1", w12, "N9*LI*1", "N9*LI*2"}, nil, CodeQuantityMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			units := strconv.Itoa(strings.Count(strings.Join(tt.detail, "|"), "W12*"))
			res := mapFile(t, set945(t, tt.detail, units))
			if tt.lines == nil {
				if len(res.Rejects) == 0 || res.Rejects[0].Code != tt.code {
					t.Fatalf("rejects %v; want %s", res.Rejects, tt.code)
				}
				return
			}
			if len(res.Rejects) != 0 {
				t.Fatalf("rejects: %v", res.Rejects)
			}
			var got []string
			for _, l := range res.Events[0].GetShipmentShipped().GetLines() {
				got = append(got, l.GetLineNo())
			}
			if !reflect.DeepEqual(got, tt.lines) {
				t.Errorf("lines %v; want %v", got, tt.lines)
			}
		})
	}
}

// TestStableIDs: a re-read file, and the same interchange in another layout,
// give the same event ids and keys.
func TestStableIDs(t *testing.T) {
	ids := func(res Result) []string {
		var out []string
		for _, e := range res.Events {
			out = append(out, e.GetId()+" "+e.GetIdempotencyKey())
		}
		return append(out, res.Ack.GetId())
	}
	base945 := ids(mapFile(t, input(t, "fixture_945")))
	for _, c := range []string{"fixture_945", "layout_crlf", "layout_no_newlines"} {
		if got := ids(mapFile(t, input(t, c))); !reflect.DeepEqual(got, base945) {
			t.Errorf("%s: ids %v; want %v", c, got, base945)
		}
	}
	base214 := ids(mapFile(t, input(t, "fixture_214")))
	if got := ids(mapFile(t, input(t, "layout_custom_delimiters"))); !reflect.DeepEqual(got, base214) {
		t.Errorf("custom delimiters: ids %v; want %v", got, base214)
	}
}

// TestRejects checks that each bad input is rejected with its code at its
// place, and that the rest of the file still maps.
func TestRejects(t *testing.T) {
	cases := []struct {
		name       string
		code       string
		set        string // ST02 of the rejected set
		segment    string
		pos, elem  int
		events     int
		ackRejects int // sets the 997 rejects
	}{
		{"se_count_mismatch", x12.CodeSECount, "0003", "SE", 14, 1, 5, 1},
		{"unsupported_set", CodeUnsupportedSet, "0006", "ST", 1, 1, 6, 1},
		{"bad_sscc_check_digit", "gs1_check_digit", "0001", "MAN", 18, 2, 0, 0},
		{"bad_gtin_check_digit", "gs1_check_digit", "0001", "W12", 21, 18, 0, 0},
		{"unknown_unit", "unit_unknown", "0001", "W12", 19, 5, 0, 0},
		{"unknown_status", CodeUnknownCode, "0004", "AT7", 10, 1, 5, 0},
		{"unknown_charge", CodeUnknownCode, "0001", "L1", 13, 8, 0, 0},
		{"dst_gap", "time_nonexistent", "0002", "AT7", 10, 6, 5, 0},
		{"quantity_mismatch", CodeQuantityMismatch, "0001", "W12", 19, 4, 0, 0},
		{"zone_unknown", CodeZoneUnknown, "0003", "MS1", 11, 0, 5, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := mapFile(t, input(t, c.name))
			if len(res.Rejects) != 1 {
				t.Fatalf("rejects %v; want one", res.Rejects)
			}
			r := res.Rejects[0]
			if r.Code != c.code || !strings.HasSuffix(r.Ref, "ST02="+c.set) || r.SegmentID != c.segment || r.Segment != c.pos || r.Element != c.elem {
				t.Errorf("reject %s; want %s in set %s at %s #%d element %d", r, c.code, c.set, c.segment, c.pos, c.elem)
			}
			if !strings.HasPrefix(r.Payload, "ST*") || !strings.HasSuffix(r.Payload, "~") {
				t.Errorf("payload %q is not the set", r.Payload)
			}
			if len(res.Events) != c.events {
				t.Errorf("%d events; want %d from the other sets", len(res.Events), c.events)
			}
			rejected := 0
			for _, tr := range res.Ack.GetIntegrationAcknowledged().GetTransactions() {
				if tr.GetStatus() == canonical.AckStatus_ACK_STATUS_REJECTED {
					rejected++
				}
			}
			if rejected != c.ackRejects {
				t.Errorf("the 997 rejects %d sets; want %d", rejected, c.ackRejects)
			}
		})
	}
}

func TestAmbiguousTimeWarns(t *testing.T) {
	res := mapFile(t, input(t, "dst_overlap"))
	if len(res.Rejects) != 0 || len(res.Warnings) != 1 || res.Warnings[0].Code != CodeTimeAmbiguous {
		t.Fatalf("rejects %v warnings %v", res.Rejects, res.Warnings)
	}
	af := res.Events[1]
	if !af.GetTime().AsTime().Equal(time.Date(2025, 11, 2, 6, 30, 0, 0, time.UTC)) || af.GetOccurredOffset() != "-05:00" {
		t.Errorf("01:30 on fall-back day = %v %s; want the earlier instant 06:30Z (CDT)", af.GetTime().AsTime(), af.GetOccurredOffset())
	}
}

// TestDuplicateInterchange shows how a caller detects a reused control
// number: it remembers Interchange.Key with the file's content hash.
func TestDuplicateInterchange(t *testing.T) {
	seen := map[string][32]byte{} // the connector keeps this durably
	check := func(data []byte) string {
		ic, err := x12.Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		prev, ok := seen[ic.Key()]
		switch {
		case !ok:
			seen[ic.Key()] = sum
			return "new"
		case prev == sum:
			return "redelivered"
		}
		return x12.CodeDuplicateInterchange
	}
	f945 := input(t, "fixture_945")
	other := []byte(strings.Replace(string(f945), "W12*CC*24*24*0*EA", "W12*CC*24*24*0*EA", 1) + "\n")
	reused := []byte(strings.Replace(string(f945), "SO-778812", "SO-778899", 1))
	for i, c := range []struct {
		data []byte
		want string
	}{{f945, "new"}, {f945, "redelivered"}, {other, x12.CodeDuplicateInterchange}, {reused, x12.CodeDuplicateInterchange}, {input(t, "fixture_214"), "new"}} {
		if got := check(c.data); got != c.want {
			t.Errorf("file %d: %s; want %s", i, got, c.want)
		}
	}
}

func TestZoneFor(t *testing.T) {
	cfg := testConfig()
	cfg.CityZones = map[string]string{"TIJUANA,BC,MX": "America/Tijuana", "MEMPHIS,TN": "America/Chicago"}
	m, err := NewMapper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ city, region, country, want string }{
		{"MEMPHIS", "TN", "US", "America/Chicago"},
		{"Knoxville", "tn", "", "America/New_York"},
		{"ATLANTA", "GA", "USA", "America/New_York"},
		{"EL PASO", "TX", "US", "America/Denver"},
		{"PHOENIX", "AZ", "US", "America/Phoenix"},
		{"TORONTO", "ON", "", "America/Toronto"},
		{"REGINA", "SK", "CA", "America/Regina"},
		{"TIJUANA", "BC", "MX", "America/Tijuana"},
		{"MONTERREY", "NL", "MX", ""},
		{"NOWHERE", "ZZ", "US", ""},
	}
	for _, c := range cases {
		z, err := m.zoneFor(c.city, c.region, c.country)
		got := ""
		if err == nil {
			got = z.String()
		}
		if got != c.want {
			t.Errorf("zoneFor(%s, %s, %s) = %q, %v; want %q", c.city, c.region, c.country, got, err, c.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := testConfig().Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	bad := Config{
		SiteID:      "MEM 1",
		TimeZone:    "Local",
		Partners:    map[string]Partner{"XMPL": {SCAC: "xmpl"}, "ACME": {TimeZone: "Mars/Olympus"}},
		CityZones:   map[string]string{"knoxville,tn": "America/New_York", "A,B": "Nowhere/Zone"},
		ChargeCodes: map[string]canonical.ChargeCode{"400": 0},
		Currency:    "DOLLARS",
	}
	err := bad.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"siteId", "timeZone", "partners.XMPL.scac", "partners.ACME.timeZone", "cityZones.knoxville,tn", "cityZones.A,B", "chargeCodes.400", "currency"} {
		if !strings.Contains(err.Error(), want+":") {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
	if _, err := Map(bad, &x12.Interchange{}); err == nil {
		t.Error("Map with a bad config: no error")
	}
}

func TestOwnerUnknown(t *testing.T) {
	cfg := testConfig()
	delete(cfg.Partners, "ACMEFOODS")
	ic, err := x12.Parse(input(t, "fixture_945"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Map(cfg, ic)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 0 || len(res.Rejects) == 0 || res.Rejects[0].Code != CodeOwnerUnknown {
		t.Errorf("rejects %v", res.Rejects)
	}
}

func TestSkipAck(t *testing.T) {
	cfg := testConfig()
	cfg.SkipAck = true
	ic, _ := x12.Parse(input(t, "fixture_945"))
	res, err := Map(cfg, ic)
	if err != nil || res.Ack != nil {
		t.Errorf("SkipAck: ack %v, %v", res.Ack, err)
	}
}

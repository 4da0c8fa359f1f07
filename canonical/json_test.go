package canonical_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	. "github.com/draylink/dray/canonical"
	"google.golang.org/protobuf/proto"
)

// minimal is a valid event used as the base of the decoder cases.
const minimal = `{"specversion":"1.0","id":"b41ddc10-1e68-598c-b23a-d8b965819362","source":"urn:dray:MEM1:edi:XMPL",` +
	`"type":"logistics.shipment.status_changed","subject":"shipment/SHP25031407","time":"2025-03-14T20:48:00Z",` +
	`"siteid":"MEM1","sourcesystem":"edi.x12.214","idempotencykey":"1980b6ba-602a-506c-b687-13f9f530305c",` +
	`"partitionkey":"shipment/SHP25031407","schemaversion":"1.0.0","datacontenttype":"application/json",` +
	`"data":{"shipmentId":"SHP25031407","milestone":"departed_pickup","status":"in_transit","stopSeq":1}}`

func TestUnmarshalJSONMinimal(t *testing.T) {
	e, err := UnmarshalJSON([]byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(e); err != nil {
		t.Fatalf("validate: %v", err)
	}
	d := e.GetShipmentStatusChanged()
	if d.GetMilestone() != Milestone_MILESTONE_DEPARTED_PICKUP || d.GetStopSeq() != 1 {
		t.Errorf("data = %v", d)
	}
	if got := e.GetTime().AsTime().Format("2006-01-02T15:04Z07:00"); got != "2025-03-14T20:48Z" {
		t.Errorf("time = %s", got)
	}
}

func TestUnmarshalJSONAcceptsDataBeforeTypeAndOffsets(t *testing.T) {
	in := `{"data":{"shipmentId":"S1","milestone":"delivered"},"specversion":"1.0",` +
		`"type":"logistics.shipment.status_changed","time":"2025-03-14T15:48:00.5-05:00"}`
	e, err := UnmarshalJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if e.GetShipmentStatusChanged().GetShipmentId() != "S1" {
		t.Errorf("data not decoded: %v", e)
	}
	if got := e.GetTime().AsTime().UTC().Format("15:04:05.0"); got != "20:48:00.5" {
		t.Errorf("time = %s; want 20:48:00.5 UTC", got)
	}
}

func TestUnmarshalJSONEscapes(t *testing.T) {
	in := strings.Replace(minimal, `"stopSeq":1`, `"stopSeq":1,"exceptionReason":"a\"b\\c\/d\n\u00e9\ud83d\ude9a"`, 1)
	e, err := UnmarshalJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.GetShipmentStatusChanged().GetExceptionReason(), "a\"b\\c/d\né🚚"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
	// And back: the encoder's escaping decodes to the same string.
	out, err := MarshalJSON(e)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalJSON(out)
	if err != nil || !proto.Equal(back, e) {
		t.Fatalf("re-decode: %v", err)
	}
}

// TestUnmarshalJSONRefuses covers the strict decoder's refusals: each case
// names the code and the path it must report.
func TestUnmarshalJSONRefuses(t *testing.T) {
	data := func(old, new string) string { return strings.Replace(minimal, old, new, 1) }
	tests := []struct {
		name, in, code, path string
	}{
		{"empty", ``, "unexpected_eof", ""},
		{"not an object", `[]`, "wrong_type", ""},
		{"trailing data", minimal + `{}`, "trailing_data", ""},
		{"trailing garbage", minimal + ` x`, "trailing_data", ""},
		{"unknown attribute", data(`"siteid"`, `"site":"X","siteid"`), "unknown_field", ""},
		{"unknown data field", data(`"stopSeq":1`, `"stopSeq":1,"stop_seq":1`), "unknown_field", "data"},
		{"duplicate attribute", data(`"siteid":"MEM1"`, `"siteid":"MEM1","siteid":"MEM2"`), "duplicate_key", ""},
		{"duplicate data key", data(`"stopSeq":1`, `"stopSeq":1,"stopSeq":2`), "duplicate_key", "data"},
		{"duplicate data", data(`}}`, `},"data":{}}`), "duplicate_key", ""},
		{"duplicate specversion", data(`"specversion":"1.0"`, `"specversion":"1.0","specversion":"1.0"`), "duplicate_key", ""},
		{"wrong specversion", data(`"specversion":"1.0"`, `"specversion":"0.3"`), "bad_specversion", "specversion"},
		{"missing specversion", data(`"specversion":"1.0",`, ``), "missing_specversion", ""},
		{"xml content type", data(`"application/json"`, `"application/xml"`), "bad_datacontenttype", "datacontenttype"},
		{"data without type", data(`"type":"logistics.shipment.status_changed",`, ``), "missing_type", "data"},
		{"data of unknown type", data(`logistics.shipment.status_changed`, `logistics.shipment.teleported`), "unknown_type", "data"},
		{"time without zone", data(`"2025-03-14T20:48:00Z"`, `"2025-03-14T20:48:00"`), "time_without_zone", "time"},
		{"time not rfc3339", data(`"2025-03-14T20:48:00Z"`, `"14/03/2025 20:48"`), "invalid_time", "time"},
		{"time in year 0", data(`"2025-03-14T20:48:00Z"`, `"0000-01-01T00:00:00Z"`), "invalid_time", "time"},
		{"time before year 1 by its offset", data(`"2025-03-14T20:48:00Z"`, `"0001-01-01T00:00:00+01:00"`), "invalid_time", "time"},
		{"time as number", data(`"2025-03-14T20:48:00Z"`, `1741985280`), "wrong_type", "time"},
		{"null attribute", data(`"siteid":"MEM1"`, `"siteid":null`), "null_value", "siteid"},
		{"null data", data(`"data":{`, `"data":null,"x":{`), "null_value", "data"},
		{"number for string", data(`"shipmentId":"SHP25031407"`, `"shipmentId":25031407`), "wrong_type", "data.shipmentId"},
		{"string for number", data(`"stopSeq":1`, `"stopSeq":"1"`), "wrong_type", "data.stopSeq"},
		{"fraction for integer", data(`"stopSeq":1`, `"stopSeq":1.5`), "wrong_type", "data.stopSeq"},
		{"exponent for integer", data(`"stopSeq":1`, `"stopSeq":1e2`), "wrong_type", "data.stopSeq"},
		{"huge integer", data(`"stopSeq":1`, `"stopSeq":99999999999999999999999`), "number_out_of_range", "data.stopSeq"},
		{"int32 overflow", data(`"stopSeq":1`, `"stopSeq":2147483648`), "number_out_of_range", "data.stopSeq"},
		{"leading zero", data(`"stopSeq":1`, `"stopSeq":01`), "syntax_error", "data"},
		{"bad number", data(`"stopSeq":1`, `"stopSeq":-`), "wrong_type", "data.stopSeq"},
		{"unknown enum", data(`"departed_pickup"`, `"DEPARTED_PICKUP"`), "unknown_enum", "data.milestone"},
		{"bool for string", data(`"siteid":"MEM1"`, `"siteid":true`), "wrong_type", "siteid"},
		{"object for string", data(`"siteid":"MEM1"`, `"siteid":{}`), "wrong_type", "siteid"},
		{"array for object", data(`"data":{`, `"data":[],"y":{`), "wrong_type", "data"},
		{"invalid utf-8", data(`"MEM1"`, "\"ME\xffM1\""), "invalid_utf8", "siteid"},
		{"overlong utf-8", data(`"MEM1"`, "\"\xc0\xaf\""), "invalid_utf8", "siteid"},
		{"lone high surrogate", data(`"MEM1"`, `"\ud83d"`), "invalid_surrogate", "siteid"},
		{"lone low surrogate", data(`"MEM1"`, `"\ude9a"`), "invalid_surrogate", "siteid"},
		{"reversed surrogates", data(`"MEM1"`, `"\ude9a\ud83d"`), "invalid_surrogate", "siteid"},
		{"bad escape", data(`"MEM1"`, `"\x41"`), "invalid_escape", "siteid"},
		{"short unicode escape", data(`"MEM1"`, `"\u12"`), "invalid_escape", "siteid"},
		{"raw newline", data(`"MEM1"`, "\"ME\nM1\""), "control_character", "siteid"},
		{"unterminated string", `{"specversion":"1.0`, "unexpected_eof", "specversion"},
		{"unclosed object", `{"specversion":"1.0"`, "unexpected_eof", ""},
		{"missing colon", `{"specversion" "1.0"}`, "syntax_error", ""},
		{"trailing comma", `{"specversion":"1.0",}`, "syntax_error", ""},
		{"too deep", data(`"stopSeq":1`, `"stopSeq":1,"location":`+strings.Repeat(`{"lines":[`, 20)), "wrong_type", "data.location.lines[0]"},
		{"null in array", data(`"stopSeq":1`, `"stopSeq":1,"location":{"lines":[null]}`), "null_value", "data.location.lines[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := UnmarshalJSON([]byte(tt.in))
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v; want a *DecodeError", err)
			}
			if de.Code != tt.code || de.Path != tt.path {
				t.Fatalf("got %s at %q; want %s at %q (%v)", de.Code, de.Path, tt.code, tt.path, err)
			}
			if de.Offset < 0 || de.Offset > len(tt.in) {
				t.Errorf("offset %d outside the input", de.Offset)
			}
		})
	}
}

func TestUnmarshalJSONTooDeep(t *testing.T) {
	in := `{"specversion":"1.0","x":` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `}`
	_, err := UnmarshalJSON([]byte(in))
	var de *DecodeError
	if !errors.As(err, &de) || de.Code != "unknown_field" {
		t.Fatalf("err = %v; want unknown_field before depth matters", err)
	}
	// Data skipped while its type is unknown is still bounded in depth.
	in = `{"data":` + strings.Repeat(`[`, 100) + strings.Repeat(`]`, 100) + `}`
	if _, err := UnmarshalJSON([]byte(in)); !errors.As(err, &de) || de.Code != "too_deep" {
		t.Fatalf("err = %v; want too_deep", err)
	}
}

// TestEventImplementsJSONInterfaces: encoding/json uses the strict codec.
func TestEventImplementsJSONInterfaces(t *testing.T) {
	e := sampleOf(t, "logistics.delivery.confirmed")
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(e, &back) {
		t.Fatal("json.Marshal / json.Unmarshal round trip changed the event")
	}
	var dup Event
	if err := json.Unmarshal([]byte(strings.Replace(string(b), `"siteid":"MEM1"`, `"siteid":"MEM1","siteid":"X"`, 1)), &dup); err == nil {
		t.Fatal("json.Unmarshal accepted a duplicate key")
	}
}

func TestMarshalJSONRefusesInvalidUTF8AndUnknownEnums(t *testing.T) {
	e := sampleOf(t, "logistics.shipment.status_changed")
	e.GetShipmentStatusChanged().ExceptionReason = "bad \xff"
	if _, err := MarshalJSON(e); err == nil || !strings.Contains(err.Error(), "data.exceptionReason") {
		t.Fatalf("err = %v; want an error at data.exceptionReason", err)
	}
	e = sampleOf(t, "logistics.shipment.status_changed")
	e.GetShipmentStatusChanged().Milestone = 77
	if _, err := MarshalJSON(e); err == nil || !strings.Contains(err.Error(), "data.milestone") {
		t.Fatalf("err = %v; want an error at data.milestone", err)
	}
}

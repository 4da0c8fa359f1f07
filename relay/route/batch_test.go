package route

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestAppendJSONStringMatchesMarshal: the JSON batch's string writer gives
// json.Marshal's bytes for every single byte, header-like values, escapes,
// HTML characters, non-ASCII and invalid UTF-8.
func TestAppendJSONStringMatchesMarshal(t *testing.T) {
	seeds := []string{"", "Idempotency-Key", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"/erp/v1/goods-movements?x=1", `a"b`, `a\b`, "a<b>&c", "tab\there", "é", "😀", "\u2028", "bad\xff", "\x7f"}
	for c := 0; c < 256; c++ {
		seeds = append(seeds, string([]byte{byte(c)}), "x"+string([]byte{byte(c)})+"y")
	}
	for _, s := range seeds {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		got := appendJSONString([]byte("prefix"), s)
		if string(got) != "prefix"+string(want) {
			t.Errorf("%q: got %s, want %s", s, got[len("prefix"):], want)
		}
	}
}

// TestJSONBatchResultsReading: ids in any order, unknown members skipped,
// a failure's response kept compacted as its detail; every malformed or
// inconsistent answer refused with where it went wrong.
func TestJSONBatchResultsReading(t *testing.T) {
	ans := `{"odata":1,"responses":[
	  {"id":"2","status":422,"headers":{"Content-Type": "application/problem+json"},"body":{"title": "bad", "errors":[1, 2]},"extra":[{}]},
	  {"status":201,"id":"1","body":{"documentId":"49"}}]}`
	res, ok, err := jsonBatchResults([]byte(ans), 2)
	if err != nil || !ok {
		t.Fatal(err)
	}
	if res[0].Status != 201 || res[0].Detail != nil || res[1].Status != 422 {
		t.Fatalf("results %+v", res)
	}
	want := `{"id":"2","status":422,"headers":{"Content-Type":"application/problem+json"},"body":{"title":"bad","errors":[1,2]}}`
	if string(res[1].Detail) != want {
		t.Errorf("detail %s; want %s", res[1].Detail, want)
	}
	res, _, _ = jsonBatchResults([]byte(`{"responses":[{"id":"1","status":500}]}`), 1)
	if string(res[0].Detail) != `{"id":"1","status":500,"headers":null,"body":null}` {
		t.Errorf("detail without headers and body: %s", res[0].Detail)
	}
	for _, bad := range []string{
		``, `nope`, `[]`, `{}`, `{"responses":{}}`,
		`{"responses":[{"id":"1","status":201}]} {}`,
		`{"responses":[{"id":"1","status":201}],"responses":[{"id":"1","status":201}]}`,
		`{"responses":[{"id":1,"status":201}]}`,
		`{"responses":[{"id":"1","status":"201"}]}`,
		`{"responses":[{"id":"1","status":201.5}]}`,
		`{"responses":[{"id":"1","status":99}]}`,
		`{"responses":[{"id":"1"}]}`,
		`{"responses":[{"status":201}]}`,
		`{"responses":[{"id":"2","status":201}]}`,
		`{"responses":[{"id":"1","status":201},{"id":"1","status":201}]}`,
		`{"responses":[]}`,
		`{"responses":[{"id":"1","status":201,"body":{"a":}}]}`,
	} {
		if _, ok, err := jsonBatchResults([]byte(bad), 1); ok || err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

// BenchmarkJSONBatchResults reads a reference ERP's answer to a batch of
// 100 goods movements, against encoding/json into the same fields.
//
//	go test ./relay/route/ -run '^$' -bench JSONBatchResults -benchmem
func BenchmarkJSONBatchResults(b *testing.B) {
	var ans []byte
	ans = append(ans, `{"responses":[`...)
	for i := 1; i <= 100; i++ {
		if i > 1 {
			ans = append(ans, ',')
		}
		ans = fmt.Appendf(ans, `{"id":"%d","status":201,"headers":{"Location":"/erp/v1/goods-movements/4900000%05d"},`+
			`"body":{"documentId":"4900000%05d","resource":"goods-movements","status":"applied","idempotencyKey":"urn:dray:MEM1:wms/%d",`+
			`"eventId":"0190c5e2-7a4b-7c3d-8e9f-%012d","ledgerSeq":%d,"appliedAt":"2026-11-27T16:03:38.123456789Z"}}`, i, i, i, i, i, i)
	}
	ans = append(ans, "]}"...)
	b.Run("jsontext", func(b *testing.B) {
		b.SetBytes(int64(len(ans)))
		for b.Loop() {
			if _, ok, err := jsonBatchResults(ans, 100); !ok {
				b.Fatal(err)
			}
		}
	})
	b.Run("peer-encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(ans)))
		for b.Loop() {
			var v struct {
				Responses []struct {
					ID      string          `json:"id"`
					Status  int             `json:"status"`
					Headers json.RawMessage `json:"headers"`
					Body    json.RawMessage `json:"body"`
				} `json:"responses"`
			}
			if err := json.Unmarshal(ans, &v); err != nil || len(v.Responses) != 100 {
				b.Fatal(err)
			}
		}
	})
}

package route

import (
	"encoding/json"
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

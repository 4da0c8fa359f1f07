package example

import (
	"testing"

	"github.com/draylink/dray/canonical"
)

// FuzzParse: any line gives exactly one of a valid event or a reject with a
// code and a reference; nothing panics and nothing is dropped.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"count_id":"CC-1","owner":"ACME","sku":"AF-1002","lot":"L1","location":"R-40-02-C","uom":"XCS","counted":13,"expected":"14","counted_at":"2025-03-14T16:05:00-05:00","reason":"CC_ABC"}`,
		`{"count_id":"CC-1","count_id":"x"}`,
		`{"sku":{"a":[1,2]}}`,
		`{} {}`,
		"{\"count_id\":\"\xff\"}",
		`[1]`,
		``,
	} {
		f.Add([]byte(s))
	}
	c := &Connector{cfg: Config{SiteID: "MEM1", Source: "urn:dray:MEM1:counts"}, log: New().log}
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, rej := c.parse("f.jsonl", 1, line, len(line)+1)
		switch {
		case (ev == nil) == (rej == nil):
			t.Fatalf("parse(%q) = %v, %v; want exactly one", line, ev, rej)
		case ev != nil:
			if err := canonical.Validate(ev); err != nil {
				t.Fatalf("parse(%q) made an invalid event: %v", line, err)
			}
		case rej.Code == "" || rej.Ref == "" || rej.Reason == "":
			t.Fatalf("parse(%q) made an incomplete reject %+v", line, rej)
		}
	})
}

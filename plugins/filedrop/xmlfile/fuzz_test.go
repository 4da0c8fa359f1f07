package xmlfile

import (
	"errors"
	"strings"
	"testing"
)

// FuzzRead checks that no input panics, that Check and Read agree (a
// document Check accepts reads without error and gives as many records; one
// it refuses is refused by Read too, with a code and a position), and that
// no accepted document declared a DTD. `go test -fuzz FuzzRead` explores.
func FuzzRead(f *testing.F) {
	f.Add(good)
	f.Add(good[:len(good)/3])
	f.Add(`<!DOCTYPE MovementExport [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><MovementExport>&b;</MovementExport>`)
	f.Add(`<MovementExport><Movement id="1"><Quantity uom="CA">1</Quantity></Movement><Movement/></MovementExport>`)
	f.Add(`<?xml version="1.0" encoding="utf-16"?><MovementExport/>`)
	f.Add("<MovementExport>" + strings.Repeat("<Movement>", 40))
	f.Fuzz(func(t *testing.T, input string) {
		o := Options{Root: "MovementExport", Record: "Movement", MaxDepth: 16, MaxRecordBytes: 4096}
		n, err := Check(strings.NewReader(input), o)
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("Check: %v is not an *Error", err)
		}
		if e != nil && (e.Code == "" || e.Line < 1) {
			t.Fatalf("error without code or line: %+v", e)
		}
		if err == nil && strings.Contains(input, "<!") && !strings.Contains(input, "<![CDATA[") && !strings.Contains(input, "<!--") {
			t.Fatalf("accepted a document with a declaration")
		}
		got := 0
		rerr := Read(strings.NewReader(input), o, 0, func(r Record) error {
			if r.Index != got {
				t.Fatalf("record index %d; want %d", r.Index, got)
			}
			got++
			return nil
		})
		if (err == nil) != (rerr == nil) {
			t.Fatalf("Check = %v but Read = %v", err, rerr)
		}
		if err == nil && got != n {
			t.Fatalf("Check counted %d records, Read gave %d", n, got)
		}
	})
}

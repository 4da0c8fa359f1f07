package xmlfile

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var opts = Options{Root: "MovementExport", Record: "Movement", MaxDepth: 8}

const good = `<?xml version="1.0" encoding="UTF-8"?>
<MovementExport site="MEM1">
  <Movement id="1">
    <Type>RECEIPT</Type>
    <Item sku="AF-1002" lot="L1"/>
    <Quantity uom="CA">24</Quantity>
    <Note>a &amp; b &#233;</Note>
  </Movement>
  <Movement id="2"><Type>PICK</Type><Quantity uom="EA"> 3 </Quantity><Type>X</Type></Movement>
</MovementExport>
`

func TestRead(t *testing.T) {
	n, err := Check(strings.NewReader(good), opts)
	if err != nil || n != 2 {
		t.Fatalf("Check = %d, %v; want 2, nil", n, err)
	}
	var got []Record
	if err := Read(strings.NewReader(good), opts, 0, func(r Record) error { got = append(got, r); return nil }); err != nil {
		t.Fatal(err)
	}
	want0 := map[string]string{"@id": "1", "Type": "RECEIPT", "Item/@sku": "AF-1002", "Item/@lot": "L1",
		"Quantity/@uom": "CA", "Quantity": "24", "Note": "a & b é"}
	if !reflect.DeepEqual(got[0].Fields, want0) {
		t.Errorf("record 0 = %v; want %v", got[0].Fields, want0)
	}
	if got[0].Line != 3 {
		t.Errorf("record 0 at line %d; want 3", got[0].Line)
	}
	if got[1].Fields["Quantity"] != "3" || !reflect.DeepEqual(got[1].Repeated, []string{"Type"}) {
		t.Errorf("record 1 = %v, repeated %v", got[1].Fields, got[1].Repeated)
	}
	var skipped []int
	_ = Read(strings.NewReader(good), opts, 1, func(r Record) error { skipped = append(skipped, r.Index); return nil })
	if !reflect.DeepEqual(skipped, []int{1}) {
		t.Errorf("Read skipping 1 gave records %v", skipped)
	}
}

func TestRefused(t *testing.T) {
	tests := []struct {
		name, input, code string
		line              int
	}{
		{"doctype", `<?xml version="1.0"?><!DOCTYPE MovementExport [<!ENTITY x "y">]><MovementExport/>`, CodeDTD, 1},
		{"xxe", "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<MovementExport>&xxe;</MovementExport>", CodeDTD, 2},
		{"undefined entity", `<MovementExport><Movement><Type>&xxe;</Type></Movement></MovementExport>`, CodeSyntax, 1},
		{"too deep", "<MovementExport>" + strings.Repeat("<a>", 10) + strings.Repeat("</a>", 10) + "</MovementExport>", CodeTooDeep, 1},
		{"truncated", good[:len(good)/2], CodeTruncated, 6},
		{"truncated in tag", "<MovementExport><Movement id=\"1", CodeTruncated, 1},
		{"wrong root", `<Shipments><Movement/></Shipments>`, CodeWrongRoot, 1},
		{"empty", "  \n", CodeEmpty, 2},
		{"two roots", `<MovementExport/><MovementExport/>`, CodeSyntax, 1},
		{"latin1 declared", `<?xml version="1.0" encoding="ISO-8859-1"?><MovementExport/>`, CodeEncoding, 1},
		{"invalid utf-8", "<MovementExport><Movement><Type>\xff</Type></Movement></MovementExport>", CodeSyntax, 1},
		{"mismatched", `<MovementExport><Movement></Type></MovementExport>`, CodeSyntax, 1},
		{"huge record", "<MovementExport><Movement><Note>" + strings.Repeat("x", 2000) + "</Note></Movement></MovementExport>", CodeRecordTooBig, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			o.MaxRecordBytes = 1000
			_, err := Check(strings.NewReader(tt.input), o)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Check = %v; want an *Error", err)
			}
			if e.Code != tt.code || e.Line != tt.line {
				t.Errorf("got %s at line %d (%v); want %s at line %d", e.Code, e.Line, e, tt.code, tt.line)
			}
		})
	}
}

type failing struct{ n int }

func (f *failing) Read(p []byte) (int, error) {
	if f.n > 0 {
		return 0, errors.New("disk on fire")
	}
	f.n++
	return copy(p, "<MovementExport><Movement>"), nil
}

func TestIOErrorIsNotAFileProblem(t *testing.T) {
	_, err := Check(&failing{}, opts)
	var e *Error
	if err == nil || errors.As(err, &e) {
		t.Fatalf("Check over a failing reader = %v; want the I/O error", err)
	}
}

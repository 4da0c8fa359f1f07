// Package xmlfile reads record-oriented XML exports (a root element holding
// repeated record elements) safely and as a stream.
//
// Safety: a document type declaration is refused outright, internal or
// external, so no entity is ever declared, expanded or fetched (XXE,
// "billion laughs"); only the five predefined entities and character
// references are read. Nesting is capped (MaxDepth), as is the text held
// for one record (MaxRecordBytes); a declared encoding other than UTF-8 is
// refused rather than guessed.
//
// A file is read twice: [Check] reads it whole and reports the first
// structural problem, so nothing of a truncated or malformed file is
// emitted; [Read] then hands over the records one by one. Codes:
//
//	xml_dtd             a <!DOCTYPE …> (or any other <!…> declaration)
//	xml_too_deep        elements nested deeper than MaxDepth
//	xml_truncated       the file ends inside the document
//	xml_wrong_root      the root element is not Options.Root
//	xml_syntax          not well-formed XML (includes invalid UTF-8, an undefined entity)
//	xml_encoding        a declared encoding other than UTF-8
//	xml_empty           no root element at all
//	xml_record_too_large a record holds more than MaxRecordBytes of text
//
// A record is flattened into paths relative to the record element:
// "Quantity" is the text of the child element Quantity, "Quantity/@uom" its
// attribute, "@id" an attribute of the record element itself, "Item/SKU" a
// grandchild. Text is trimmed of surrounding white space. Names are matched
// without their namespace prefix.
package xmlfile

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Error codes.
const (
	CodeDTD           = "xml_dtd"
	CodeTooDeep       = "xml_too_deep"
	CodeTruncated     = "xml_truncated"
	CodeWrongRoot     = "xml_wrong_root"
	CodeSyntax        = "xml_syntax"
	CodeEncoding      = "xml_encoding"
	CodeEmpty         = "xml_empty"
	CodeRecordTooBig  = "xml_record_too_large"
	defaultMaxDepth   = 32
	defaultMaxRecord  = 1 << 20
	maxRecordElements = 10000
)

// Options say what the document looks like.
type Options struct {
	// Root is the local name of the root element, e.g. "MovementExport".
	Root string
	// Record is the path of the record elements below the root, e.g.
	// "Movement" or "Movements/Movement".
	Record string
	// MaxDepth caps element nesting; default 32.
	MaxDepth int
	// MaxRecordBytes caps the text and attribute bytes of one record;
	// default 1 MiB.
	MaxRecordBytes int
}

func (o Options) withDefaults() Options {
	if o.MaxDepth <= 0 {
		o.MaxDepth = defaultMaxDepth
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = defaultMaxRecord
	}
	return o
}

// Error is a structural problem, located.
type Error struct {
	Code      string
	Msg       string
	Line, Col int
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s (%s)", e.Line, e.Col, e.Msg, e.Code)
}

// Record is one record element.
type Record struct {
	// Index is the record's 0-based position in the document.
	Index int
	// Line and Col locate the record's start tag.
	Line, Col int
	// Fields maps paths ("Quantity", "Quantity/@uom", "@id") to values.
	Fields map[string]string
	// Repeated lists the paths that occurred more than once (Fields holds
	// the first value).
	Repeated []string
	// Positions locates each field's element (line, column).
	Positions map[string][2]int
}

// Check reads the whole document from r and returns the number of records,
// or the first problem as an *Error (another error type is an I/O error).
func Check(r io.Reader, o Options) (int, error) {
	n := 0
	err := walk(r, o, func(Record) error { n++; return nil }, false)
	return n, err
}

// Read calls fn for each record in document order, after the first skip
// records; it stops at the first error fn returns. Run Check first: Read
// reports structural problems too, but only when it reaches them.
func Read(r io.Reader, o Options, skip int, fn func(Record) error) error {
	return walk(r, o, func(rec Record) error {
		if rec.Index < skip {
			return nil
		}
		return fn(rec)
	}, true)
}

// walker is the state of one pass.
type walker struct {
	o      Options
	d      *xml.Decoder
	src    *errReader
	record []string // the record path, split
	keep   bool     // build records (Read) or only count them (Check)
}

func walk(r io.Reader, o Options, fn func(Record) error, keep bool) error {
	o = o.withDefaults()
	src := &errReader{r: r}
	d := xml.NewDecoder(src)
	d.Strict = true
	d.Entity = nil // only the predefined entities
	d.CharsetReader = func(label string, _ io.Reader) (io.Reader, error) {
		return nil, &Error{Code: CodeEncoding, Msg: fmt.Sprintf("declared encoding %q: only UTF-8 is read", label)}
	}
	w := &walker{o: o, d: d, src: src, record: strings.Split(o.Record, "/"), keep: keep}
	return w.run(fn)
}

func (w *walker) fail(code, format string, args ...any) *Error {
	line, col := w.d.InputPos()
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Line: line, Col: col}
}

// token reads the next token, translating decoder errors into codes.
func (w *walker) token() (xml.Token, error) {
	line, col := w.d.InputPos()
	tok, err := w.d.RawToken()
	if err == nil {
		return tok, nil
	}
	var xe *Error
	if errors.As(err, &xe) {
		xe.Line, xe.Col = line, col
		return nil, xe
	}
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		if strings.Contains(se.Msg, "unexpected EOF") {
			return nil, &Error{Code: CodeTruncated, Msg: "the file ends inside the document", Line: se.Line, Col: col}
		}
		if strings.Contains(se.Msg, "encoding") && strings.Contains(se.Msg, "declared") {
			return nil, &Error{Code: CodeEncoding, Msg: se.Msg, Line: se.Line, Col: col}
		}
		return nil, &Error{Code: CodeSyntax, Msg: se.Msg, Line: se.Line, Col: col}
	}
	if errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, &Error{Code: CodeTruncated, Msg: "the file ends inside the document", Line: line, Col: col}
	}
	if w.src.err != nil {
		return nil, w.src.err // reading the file failed
	}
	return nil, &Error{Code: CodeSyntax, Msg: strings.TrimPrefix(err.Error(), "xml: "), Line: line, Col: col}
}

// errReader remembers the first error of the underlying reader other than
// io.EOF, to tell a failing disk from a malformed document.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && e.err == nil {
		e.err = err
	}
	return n, err
}

func (w *walker) run(fn func(Record) error) error {
	var stack []string // open elements' local names
	var rec *recordState
	index := 0
	rootDone := false
	for {
		tok, err := w.token()
		if errors.Is(err, io.EOF) {
			switch {
			case len(stack) > 0:
				return w.fail(CodeTruncated, "the file ends inside <%s>", stack[len(stack)-1])
			case !rootDone:
				return w.fail(CodeEmpty, "no root element")
			}
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.Directive:
			return w.fail(CodeDTD, "document type declarations are refused (<!%s>)", clip(string(t), 40))
		case xml.ProcInst:
			if t.Target == "xml" {
				if enc := declEncoding(t.Inst); enc != "" && !strings.EqualFold(enc, "utf-8") && !strings.EqualFold(enc, "utf8") {
					return w.fail(CodeEncoding, "declared encoding %q: only UTF-8 is read", enc)
				}
			}
		case xml.StartElement:
			if rootDone {
				return w.fail(CodeSyntax, "<%s> after the root element", t.Name.Local)
			}
			if len(stack) == 0 && t.Name.Local != w.o.Root {
				return w.fail(CodeWrongRoot, "the root element is <%s>, not <%s>", t.Name.Local, w.o.Root)
			}
			stack = append(stack, t.Name.Local)
			if len(stack) > w.o.MaxDepth {
				return w.fail(CodeTooDeep, "elements nested deeper than %d", w.o.MaxDepth)
			}
			if rec == nil && w.isRecord(stack) {
				line, col := w.d.InputPos()
				rec = &recordState{depth: len(stack), rec: Record{Index: index, Line: line, Col: col}}
				if w.keep {
					rec.rec.Fields = map[string]string{}
					rec.rec.Positions = map[string][2]int{}
				}
				index++
			}
			if rec != nil {
				path := strings.Join(stack[rec.depth:], "/")
				if err := rec.start(w, path, t.Attr); err != nil {
					return err
				}
			}
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1] != t.Name.Local {
				return w.fail(CodeSyntax, "unexpected </%s>", t.Name.Local)
			}
			if rec != nil {
				rec.end(w, strings.Join(stack[rec.depth:], "/"))
				if len(stack) == rec.depth {
					if err := fn(rec.rec); err != nil {
						return err
					}
					rec = nil
				}
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				rootDone = true
			}
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return w.fail(CodeSyntax, "text outside the root element")
				}
				continue
			}
			if rec != nil {
				if err := rec.addText(w, t); err != nil {
					return err
				}
			}
		}
	}
}

// isRecord reports whether the open elements are root/record-path.
func (w *walker) isRecord(stack []string) bool {
	if len(stack) != len(w.record)+1 {
		return false
	}
	for i, name := range w.record {
		if stack[i+1] != name {
			return false
		}
	}
	return true
}

// recordState collects one record.
type recordState struct {
	depth int // stack depth of the record element
	rec   Record
	size  int
	elems int
	text  []byte // text of the innermost open element
}

func (r *recordState) start(w *walker, path string, attrs []xml.Attr) error {
	r.elems++
	if r.elems > maxRecordElements {
		return w.fail(CodeRecordTooBig, "a record holds more than %d elements", maxRecordElements)
	}
	r.text = r.text[:0]
	for _, a := range attrs {
		r.size += len(a.Value)
		if r.size > w.o.MaxRecordBytes {
			return w.fail(CodeRecordTooBig, "a record holds more than %d bytes of text", w.o.MaxRecordBytes)
		}
		if a.Name.Space == "xmlns" || a.Name.Local == "xmlns" {
			continue
		}
		p := "@" + a.Name.Local
		if path != "" {
			p = path + "/" + p
		}
		r.set(w, p, strings.TrimSpace(a.Value))
	}
	return nil
}

func (r *recordState) addText(w *walker, t []byte) error {
	r.size += len(t)
	if r.size > w.o.MaxRecordBytes {
		return w.fail(CodeRecordTooBig, "a record holds more than %d bytes of text", w.o.MaxRecordBytes)
	}
	if w.keep {
		r.text = append(r.text, t...)
	}
	return nil
}

func (r *recordState) end(w *walker, path string) {
	if path == "" {
		return
	}
	if v := bytes.TrimSpace(r.text); len(v) > 0 {
		r.set(w, path, string(v))
	}
	r.text = r.text[:0]
}

func (r *recordState) set(w *walker, path, value string) {
	if !w.keep {
		return
	}
	if _, dup := r.rec.Fields[path]; dup {
		r.rec.Repeated = append(r.rec.Repeated, path)
		return
	}
	r.rec.Fields[path] = value
	line, col := w.d.InputPos()
	r.rec.Positions[path] = [2]int{line, col}
}

// declEncoding returns the encoding pseudo-attribute of an XML declaration.
func declEncoding(inst []byte) string {
	s := string(inst)
	i := strings.Index(s, "encoding")
	if i < 0 {
		return ""
	}
	s = strings.TrimLeft(s[i+len("encoding"):], " \t\r\n=")
	if s == "" || (s[0] != '"' && s[0] != '\'') {
		return ""
	}
	q := s[0]
	s = s[1:]
	if j := strings.IndexByte(s, q); j >= 0 {
		return s[:j]
	}
	return ""
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

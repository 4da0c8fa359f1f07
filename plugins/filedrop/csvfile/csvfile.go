// Package csvfile reads delimited text files (RFC 4180 and its common
// variants) one record at a time, with the byte offset and line of every
// record, so a reader can stop after any record and resume there later, and
// with a located, coded error for every malformed record, after which it
// goes on with the next one.
//
// What it accepts:
//
//   - any single-byte delimiter (',' by default, ';' for European exports,
//     '\t', '|');
//   - quoted fields with doubled quotes inside, spanning lines when the
//     quote says so (a CRLF inside a quoted field reads as "\n"); quoting
//     can be switched off;
//   - LF or CRLF line ends, mixed, and no line end after the last record;
//   - a UTF-8 byte order mark at the start of the file;
//   - blank lines, which are skipped.
//
// What it reports, each as an *Error with a stable code, the line and byte
// column where the problem starts, and the bytes the record covered:
//
//	csv_bad_encoding    a line is not valid UTF-8 (or the configured encoding)
//	csv_unclosed_quote  a quoted field is not closed: by the end of the file, within
//	                    MaxRecordLines lines, or the lines it would join do not make
//	                    a record of FieldsPerRecord fields
//	csv_bare_quote      a quote inside an unquoted field (unless LazyQuotes)
//	csv_quote           a character other than a delimiter after a closing quote
//	csv_line_too_long   a line longer than MaxLineBytes
//	csv_field_count     a record with another number of fields than FieldsPerRecord
//
// # Recovering from an unclosed quote
//
// An unclosed quote is the one error that can swallow the rest of a file:
// every later line would read as part of the open field. The reader never
// lets it: a record whose quoted field runs past its first line is
// accepted only when the quote closes within MaxRecordLines lines and the
// joined lines make a record of FieldsPerRecord fields. Otherwise only the
// first line is reported (csv_unclosed_quote) and reading starts again at
// the second line, so every line of the file ends up in exactly one record
// or one error.
//
// Memory is bounded by MaxLineBytes × MaxRecordLines; a longer line is
// skipped to its end without being held.
package csvfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
)

// Error codes.
const (
	CodeBadEncoding   = "csv_bad_encoding"
	CodeUnclosedQuote = "csv_unclosed_quote"
	CodeBareQuote     = "csv_bare_quote"
	CodeQuote         = "csv_quote"
	CodeLineTooLong   = "csv_line_too_long"
	CodeFieldCount    = "csv_field_count"
)

// Encoding names a character encoding the reader converts from.
type Encoding int

// Encodings.
const (
	UTF8   Encoding = iota // checked: an invalid line is csv_bad_encoding
	Latin1                 // ISO 8859-1: every byte is the code point of its value
)

// Options configure a Reader. The zero value reads RFC 4180 CSV.
type Options struct {
	// Comma is the field delimiter; default ','. It must not be the quote,
	// '\r', '\n' or a byte of a multi-byte UTF-8 sequence.
	Comma byte
	// Quote is the quote character; default '"'. NoQuote disables quoting.
	Quote byte
	// NoQuote reads every quote character as data.
	NoQuote bool
	// LazyQuotes reads a quote inside an unquoted field, and a stray
	// character after a closing quote, as data.
	LazyQuotes bool
	// MaxLineBytes caps a physical line; default 1 MiB.
	MaxLineBytes int
	// MaxRecordLines caps the lines one record may span; default 64.
	MaxRecordLines int
	// FieldsPerRecord, when positive, is the number of fields every record
	// must have (set it from the header). Zero checks nothing.
	FieldsPerRecord int
	// Encoding of the input; default UTF8.
	Encoding Encoding
}

func (o Options) withDefaults() Options {
	if o.Comma == 0 {
		o.Comma = ','
	}
	if o.Quote == 0 {
		o.Quote = '"'
	}
	if o.MaxLineBytes <= 0 {
		o.MaxLineBytes = 1 << 20
	}
	if o.MaxRecordLines <= 0 {
		o.MaxRecordLines = 64
	}
	return o
}

// Check reports whether the options are usable.
func (o Options) Check() error {
	o = o.withDefaults()
	switch {
	case o.Comma == '\r' || o.Comma == '\n':
		return errors.New("the delimiter cannot be a line end")
	case o.Comma >= utf8.RuneSelf:
		return errors.New("the delimiter must be an ASCII character")
	case !o.NoQuote && o.Comma == o.Quote:
		return errors.New("the delimiter and the quote must differ")
	case !o.NoQuote && (o.Quote == '\r' || o.Quote == '\n' || o.Quote >= utf8.RuneSelf):
		return errors.New("the quote must be an ASCII character other than a line end")
	}
	return nil
}

// Record is one record.
type Record struct {
	// Fields are the values, unquoted.
	Fields []string
	// Line is the 1-based line of the record's first byte; Lines how many
	// lines it spans.
	Line, Lines int
	// Cols[i] is the 1-based byte column where field i starts, on line
	// Line+FieldLines[i].
	Cols       []int
	FieldLines []int
	// Offset is the byte offset of the record's first byte, End the offset
	// after its line end.
	Offset, End int64
	// Raw is the record's text without its final line end.
	Raw []byte
}

// Error is a malformed record, located. The reader has consumed the bytes
// from Offset to End and goes on after them.
type Error struct {
	Code string
	Msg  string
	// Line and Col (1-based, Col in bytes) locate the problem.
	Line, Col int
	// Offset and End delimit what the record covered; Raw is its text
	// (at most MaxLineBytes).
	Offset, End int64
	Raw         []byte
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s (%s)", e.Line, e.Col, e.Msg, e.Code)
}

// line is one physical line.
type line struct {
	b       []byte // without the line end (a final "\r" removed)
	no      int    // 1-based line number
	off     int64  // offset of its first byte
	end     int64  // offset after its line end
	tooLong bool   // longer than MaxLineBytes; b holds its first bytes
	badCol  int    // 1-based column of the first invalid byte, 0 when valid
}

// Reader reads records.
type Reader struct {
	o   Options
	br  *bufio.Reader
	off int64 // offset of the next unread byte of br
	no  int   // number of the last line read from br

	pending []line // lines read ahead and given back, in order
	err     error  // sticky read error (io.EOF included)

	fields []byte // scratch: field bytes of the record being parsed
	ends   []int
}

// NewReader reads from r, which starts at byte offset off of the file,
// after line lines. At offset 0 a UTF-8 byte order mark is skipped.
func NewReader(r io.Reader, off int64, lines int, o Options) *Reader {
	rd := &Reader{o: o.withDefaults(), br: bufio.NewReaderSize(r, 64<<10), off: off, no: lines}
	if off == 0 {
		if b, err := rd.br.Peek(3); err == nil && bytes.Equal(b, []byte("\xEF\xBB\xBF")) {
			_, _ = rd.br.Discard(3)
			rd.off = 3
		}
	}
	return rd
}

// SetFieldsPerRecord sets Options.FieldsPerRecord, e.g. after the header.
func (r *Reader) SetFieldsPerRecord(n int) { r.o.FieldsPerRecord = n }

// Offset is the offset after everything Read returned so far.
func (r *Reader) Offset() int64 {
	if len(r.pending) > 0 {
		return r.pending[0].off
	}
	return r.off
}

// Line is the number of the last line Read consumed.
func (r *Reader) Line() int {
	if len(r.pending) > 0 {
		return r.pending[0].no - 1
	}
	return r.no
}

// readLine returns the next physical line, or an error (io.EOF at the end).
func (r *Reader) readLine() (line, error) {
	if len(r.pending) > 0 {
		l := r.pending[0]
		r.pending = r.pending[1:]
		return l, nil
	}
	if r.err != nil {
		return line{}, r.err
	}
	l := line{off: r.off, no: r.no + 1}
	var buf []byte
	n := 0
	for {
		chunk, err := r.br.ReadSlice('\n')
		n += len(chunk)
		if room := r.o.MaxLineBytes + 2 - len(buf); room > 0 {
			buf = append(buf, chunk[:min(len(chunk), room)]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			r.err = err
			if n == 0 {
				return line{}, err
			}
		}
		break
	}
	r.off += int64(n)
	r.no++
	l.end = r.off
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	buf = bytes.TrimSuffix(buf, []byte("\r"))
	if len(buf) > r.o.MaxLineBytes {
		l.tooLong = true
		buf = buf[:r.o.MaxLineBytes]
	}
	l.b = buf
	switch r.o.Encoding {
	case Latin1:
		l.b = latin1ToUTF8(buf)
	default:
		if !utf8.Valid(buf) {
			l.badCol = firstInvalid(buf) + 1
		}
	}
	return l, nil
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		c, size := utf8.DecodeRune(b[i:])
		if c == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(b)
}

func latin1ToUTF8(b []byte) []byte {
	ascii := true
	for _, c := range b {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return b
	}
	out := make([]byte, 0, len(b)+len(b)/4)
	for _, c := range b {
		out = utf8.AppendRune(out, rune(c))
	}
	return out
}

func (r *Reader) unread(ls []line) {
	r.pending = append(append([]line(nil), ls...), r.pending...)
}

func lineErr(l line, code string, col int, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Line: l.no, Col: col, Offset: l.off, End: l.end, Raw: l.b}
}

// Read returns the next record, an *Error for a malformed one (the next
// Read goes on after it), io.EOF at the end, or another error from the
// underlying reader.
func (r *Reader) Read() (*Record, error) {
	var first line
	for {
		l, err := r.readLine()
		if err != nil {
			return nil, err
		}
		if len(l.b) == 0 && !l.tooLong {
			continue // blank line
		}
		first = l
		break
	}
	if first.tooLong {
		return nil, lineErr(first, CodeLineTooLong, r.o.MaxLineBytes+1, "the line is longer than %d bytes", r.o.MaxLineBytes)
	}
	if first.badCol > 0 {
		return nil, lineErr(first, CodeBadEncoding, first.badCol, "byte %d is not valid UTF-8", first.badCol)
	}
	lines := []line{first}
	p := parser{o: &r.o, fields: r.fields[:0], ends: r.ends[:0]}
	p.parseLine(first.b, 0)
	for p.err == nil && p.inQuote {
		if len(lines) >= r.o.MaxRecordLines {
			break
		}
		l, err := r.readLine()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return nil, err
			}
			break
		}
		lines = append(lines, l)
		if l.tooLong || l.badCol > 0 {
			break
		}
		p.fields = append(p.fields, '\n')
		p.parseLine(l.b, len(lines)-1)
	}
	r.fields, r.ends = p.fields, p.ends

	// A problem on a continuation line, an unclosed quote, or a multi-line
	// record of the wrong shape: report the first line alone and read
	// again from the second.
	multi := len(lines) > 1
	if p.inQuote || (multi && p.err != nil) || (multi && r.o.FieldsPerRecord > 0 && len(p.ends) != r.o.FieldsPerRecord) ||
		(multi && (lines[len(lines)-1].tooLong || lines[len(lines)-1].badCol > 0)) {
		r.unread(lines[1:])
		e := lineErr(first, CodeUnclosedQuote, p.openCol, "the quoted field opened at column %d is not closed on this line", p.openCol)
		if multi {
			e.Msg += fmt.Sprintf(" (joining it with the next %d line(s) does not make a valid record)", len(lines)-1)
		}
		return nil, e
	}
	if p.err != nil {
		p.err.Line, p.err.Offset, p.err.End, p.err.Raw = first.no, first.off, first.end, first.b
		return nil, p.err
	}
	rec := &Record{Line: first.no, Lines: len(lines), Offset: first.off, End: lines[len(lines)-1].end}
	s := string(p.fields)
	rec.Fields = make([]string, len(p.ends))
	start := 0
	for i, e := range p.ends {
		rec.Fields[i] = s[start:e]
		start = e
	}
	rec.Cols, rec.FieldLines = p.cols, p.flines
	if multi {
		var raw []byte
		for i, l := range lines {
			if i > 0 {
				raw = append(raw, '\n')
			}
			raw = append(raw, l.b...)
		}
		rec.Raw = raw
	} else {
		rec.Raw = first.b
	}
	if n := r.o.FieldsPerRecord; n > 0 && len(rec.Fields) != n {
		return nil, &Error{Code: CodeFieldCount, Msg: fmt.Sprintf("%d fields; the header has %d", len(rec.Fields), n),
			Line: first.no, Col: 1, Offset: rec.Offset, End: rec.End, Raw: rec.Raw}
	}
	return rec, nil
}

// parser splits the lines of one record into fields.
type parser struct {
	o       *Options
	fields  []byte // the field bytes, concatenated
	ends    []int  // end of each field in fields
	cols    []int
	flines  []int
	inQuote bool // inside a quoted field at the end of the last line
	openCol int  // column of the quote that opened the current field
	err     *Error
}

// parseLine parses one physical line; lineIdx is its index in the record.
func (p *parser) parseLine(b []byte, lineIdx int) {
	comma, quote := p.o.Comma, p.o.Quote
	noQuote := p.o.NoQuote
	i := 0
	if !p.inQuote {
		goto fieldStart
	}
	goto quoted

fieldStart:
	p.cols = append(p.cols, i+1)
	p.flines = append(p.flines, lineIdx)
	if !noQuote && i < len(b) && b[i] == quote {
		p.openCol = i + 1
		i++
		goto quoted
	}
	// Unquoted field: up to the next delimiter.
	for {
		j := bytes.IndexByte(b[i:], comma)
		end := len(b)
		if j >= 0 {
			end = i + j
		}
		field := b[i:end]
		if !noQuote && !p.o.LazyQuotes {
			if k := bytes.IndexByte(field, quote); k >= 0 {
				p.fail(CodeBareQuote, i+k+1, "a quote inside an unquoted field (quote the field and double the quote)")
				return
			}
		}
		p.fields = append(p.fields, field...)
		p.ends = append(p.ends, len(p.fields))
		if j < 0 {
			p.inQuote = false
			return
		}
		i = end + 1
		goto fieldStart
	}

quoted:
	for {
		j := bytes.IndexByte(b[i:], quote)
		if j < 0 {
			// The field goes on on the next line.
			p.fields = append(p.fields, b[i:]...)
			p.inQuote = true
			return
		}
		p.fields = append(p.fields, b[i:i+j]...)
		i += j + 1
		switch {
		case i < len(b) && b[i] == quote: // doubled quote
			p.fields = append(p.fields, quote)
			i++
		case i == len(b): // closed at the end of the line
			p.ends = append(p.ends, len(p.fields))
			p.inQuote = false
			return
		case b[i] == comma:
			p.ends = append(p.ends, len(p.fields))
			i++
			goto fieldStart
		case p.o.LazyQuotes:
			p.fields = append(p.fields, quote)
		default:
			p.fail(CodeQuote, i+1, "%q after the closing quote of a field (want the delimiter %q)", b[i], comma)
			return
		}
	}
}

func (p *parser) fail(code string, col int, format string, args ...any) {
	p.err = &Error{Code: code, Col: col, Msg: fmt.Sprintf(format, args...)}
	p.inQuote = false
}

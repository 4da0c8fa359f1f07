package example

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Reject codes: stable, for the quarantine and its dashboards.
const (
	RejectBadEncoding    = "bad_encoding"         // the line is not UTF-8
	RejectJSONSyntax     = "json_syntax"          // not one JSON object
	RejectUnknownField   = "json_unknown_field"   // a key this format does not have
	RejectDuplicateField = "json_duplicate_field" // a key given twice
	RejectWrongType      = "json_type"            // e.g. a number where text is due
	RejectMissingField   = "missing_field"        // a required key is absent or empty
	RejectBadTime        = "bad_time"             // counted_at is not RFC 3339 with an offset
	RejectLineTooLong    = "line_too_long"        // over 1 MiB
	RejectInvalidCount   = "invalid_count"        // the canonical model refuses the values
)

// countLine is one line of a count file.
type countLine struct {
	CountID, Owner, SKU, Lot, Location, UOM string
	Counted, Expected                       string // decimals, as written
	CountedAt, Reason                       string
}

// lineError is what is wrong with a line: the first problem's code and
// column, and every problem in msg.
type lineError struct {
	code string
	col  int
	msg  string
}

func (e *lineError) Error() string { return e.msg }

// decodeLine decodes one line strictly: one flat JSON object, known keys
// only, each once, text or numbers as each field wants, nothing after it.
func decodeLine(line []byte) (countLine, error) {
	var cl countLine
	if !utf8.Valid(line) {
		col := 1
		for i := 0; i < len(line); {
			r, size := utf8.DecodeRune(line[i:])
			if r == utf8.RuneError && size <= 1 {
				col = i + 1
				break
			}
			i += size
		}
		return cl, &lineError{RejectBadEncoding, col, fmt.Sprintf("byte %d is not valid UTF-8", col)}
	}
	fields := map[string]*string{
		"count_id": &cl.CountID, "owner": &cl.Owner, "sku": &cl.SKU, "lot": &cl.Lot,
		"location": &cl.Location, "uom": &cl.UOM, "counted": &cl.Counted, "expected": &cl.Expected,
		"counted_at": &cl.CountedAt, "reason": &cl.Reason,
	}
	decimals := map[string]bool{"counted": true, "expected": true}

	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var first *lineError
	var msgs []string
	problem := func(code string, col int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if first == nil {
			first = &lineError{code: code, col: col}
		}
		if col > 0 {
			msg = fmt.Sprintf("column %d: %s", col, msg)
		}
		msgs = append(msgs, msg)
	}
	syntax := func(err error) error {
		col := int(dec.InputOffset()) + 1
		var se *json.SyntaxError
		if errors.As(err, &se) {
			col = int(se.Offset)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("unexpected end of line")
		}
		return &lineError{RejectJSONSyntax, col, fmt.Sprintf("column %d: %v", col, err)}
	}

	if tok, err := dec.Token(); err != nil {
		return cl, syntax(err)
	} else if tok != json.Delim('{') {
		return cl, &lineError{RejectJSONSyntax, 1, "a line must be one JSON object"}
	}
	seen := map[string]bool{}
	// at returns the column of the next token: past blanks and a comma.
	at := func() int {
		i := int(dec.InputOffset())
		for i < len(line) && strings.IndexByte(" \t,:", line[i]) >= 0 {
			i++
		}
		return i + 1
	}
	for dec.More() {
		col := at()
		tok, err := dec.Token()
		if err != nil {
			return cl, syntax(err)
		}
		key, _ := tok.(string)
		vcol := at()
		val, err := dec.Token()
		if err != nil {
			return cl, syntax(err)
		}
		if d, ok := val.(json.Delim); ok {
			// A nested object or list: no field has one. Stop here (the
			// rest of the line cannot be trusted to line up).
			problem(RejectWrongType, vcol, "%s: want a scalar, got %q", key, d)
			break
		}
		dst, known := fields[key]
		switch {
		case seen[key]:
			problem(RejectDuplicateField, col, "%s is given twice", key)
			continue
		case !known:
			problem(RejectUnknownField, col, "unknown field %q", key)
			continue
		}
		seen[key] = true
		switch v := val.(type) {
		case string:
			*dst = v
		case json.Number:
			if !decimals[key] {
				problem(RejectWrongType, vcol, "%s: want a string, got the number %s", key, v)
				continue
			}
			*dst = v.String()
		case nil:
			// null: absent
		default:
			problem(RejectWrongType, vcol, "%s: want a string, got %v", key, v)
		}
	}
	if first == nil || first.code != RejectWrongType {
		if _, err := dec.Token(); err != nil { // the closing brace
			return cl, syntax(err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return cl, &lineError{RejectJSONSyntax, int(dec.InputOffset()) + 1, "data after the JSON object"}
		}
	}
	if first == nil {
		var missing []string
		for _, k := range []string{"count_id", "sku", "location", "uom", "counted", "counted_at"} {
			if *fields[k] == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			problem(RejectMissingField, 0, "missing %s", strings.Join(missing, ", "))
		}
	}
	if first != nil {
		first.msg = strings.Join(msgs, "; ")
		return cl, first
	}
	return cl, nil
}

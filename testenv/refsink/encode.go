package refsink

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// The ledger line and the 201 answer are written by hand: encoding/json's
// reflection cost about a third of the apply step, under the store lock.
// TestRecordEncoding checks the output against encoding/json.

// appendRecord appends rec as one JSON object (the same members, names and
// omissions as Record's json tags).
// ts, if not nil, remembers the time formatted last.
func appendRecord(b []byte, rec *Record, ts *timeStamps) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendUint(b, rec.Seq, 10)
	b = append(b, `,"time":`...)
	b = ts.append(b, rec.Time)
	b = appendPlain(b, "kind", string(rec.Kind), false)
	b = appendPlain(b, "resource", rec.Resource, false)
	b = appendStr(b, "path", rec.Path, false)
	b = appendPlain(b, "format", rec.Format, false)
	if rec.Batch != 0 {
		b = append(b, `,"batch":`...)
		b = strconv.AppendUint(b, rec.Batch, 10)
	}
	if rec.BatchIndex != 0 {
		b = append(b, `,"batchIndex":`...)
		b = strconv.AppendInt(b, int64(rec.BatchIndex), 10)
	}
	b = appendPlain(b, "outcome", string(rec.Outcome), false)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(rec.Status), 10)
	b = appendStr(b, "key", rec.Key, true)
	b = appendStr(b, "eventId", rec.EventID, true)
	b = appendStr(b, "eventType", rec.EventType, true)
	if rec.EventTime != nil {
		b = append(b, `,"eventTime":`...)
		b = appendTime(b, *rec.EventTime)
	}
	b = appendStr(b, "site", rec.Site, true)
	b = appendStr(b, "correlationId", rec.CorrelationID, true)
	b = appendStr(b, "traceparent", rec.Traceparent, true)
	b = appendStr(b, "partitionKey", rec.PartitionKey, true)
	if rec.PartitionSeq != 0 {
		b = append(b, `,"partitionSeq":`...)
		b = strconv.AppendUint(b, rec.PartitionSeq, 10)
	}
	b = appendStr(b, "principal", rec.Principal, true)
	b = appendPlain(b, "bodySha256", rec.BodySHA256, true)
	if rec.Original != 0 {
		b = append(b, `,"original":`...)
		b = strconv.AppendUint(b, rec.Original, 10)
	}
	b = appendPlain(b, "documentId", rec.DocumentID, true)
	if rec.ResponseDropped {
		b = append(b, `,"responseDropped":true`...)
	}
	if len(rec.Problems) > 0 {
		b = append(b, `,"problems":[`...)
		for i, p := range rec.Problems {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, p)
		}
		b = append(b, ']')
	}
	// Response and Body are compact JSON already (our own encoding, or
	// json.Compact of a body that parsed).
	if len(rec.Response) > 0 {
		b = append(b, `,"response":`...)
		b = append(b, rec.Response...)
	}
	if len(rec.Body) > 0 {
		b = append(b, `,"body":`...)
		b = append(b, rec.Body...)
	}
	return append(b, '}')
}

// appendApplied appends the 201 answer of an applied item (ts: as for
// appendRecord).
func appendApplied(b []byte, a *appliedBody, ts *timeStamps) []byte {
	b = append(b, `{"documentId":`...)
	b = appendJSONString(b, a.DocumentID)
	b = appendStr(b, "resource", a.Resource, false)
	b = appendStr(b, "status", a.Status, false)
	b = appendStr(b, "idempotencyKey", a.IdempotencyKey, false)
	b = appendStr(b, "eventId", a.EventID, true)
	b = append(b, `,"ledgerSeq":`...)
	b = strconv.AppendUint(b, a.LedgerSeq, 10)
	b = append(b, `,"appliedAt":`...)
	b = ts.append(b, a.AppliedAt)
	return append(b, '}')
}

// appendPlain is appendStr for a value that needs no escaping, written by
// the sink itself (names of kinds, resources, formats and outcomes; hex;
// document ids).
func appendPlain(b []byte, name, value string, omitEmpty bool) []byte {
	if omitEmpty && value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':', '"')
	b = append(b, value...)
	return append(b, '"')
}

// appendStr appends `,"name":"value"`, or nothing if omitEmpty and value is
// empty.
func appendStr(b []byte, name, value string, omitEmpty bool) []byte {
	if omitEmpty && value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendJSONString(b, value)
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// timeStamps formats times as appendTime does, remembering the last one:
// the records and answers of one apply share their time.
type timeStamps struct {
	t    time.Time
	text []byte
}

func (ts *timeStamps) append(b []byte, t time.Time) []byte {
	if ts == nil {
		return appendTime(b, t)
	}
	if ts.text == nil || t != ts.t { // the same representation, hence the same text
		ts.t, ts.text = t, appendTime(ts.text[:0], t)
	}
	return append(b, ts.text...)
}

const hexDigits = "0123456789abcdef"

// plainASCII marks the bytes a JSON string holds as they are: ASCII but
// control characters, quote and backslash.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a JSON string: quotes, backslashes and
// control characters escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and
// U+2029 escaped (as encoding/json does).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plainASCII[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendMarshaledString appends s as json.Marshal encodes a string: as
// appendJSONString does, but with <, > and & escaped too (and \b, \f in
// their short forms). Plain strings, the usual case, are copied.
func appendMarshaledString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			m, _ := json.Marshal(s)
			return append(b, m...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendMarshaledRaw appends compact JSON raw as json.Marshal encodes a
// json.RawMessage: null if empty, HTML-sensitive characters escaped.
// Bodies without them, the usual case, are copied.
func appendMarshaledRaw(b, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	// 0xE2 starts the UTF-8 of U+2028 and U+2029.
	if containsAnyByte(raw, '<', '>', '&', 0xE2) {
		if m, err := json.Marshal(json.RawMessage(raw)); err == nil {
			return append(b, m...)
		}
	}
	return append(b, raw...)
}

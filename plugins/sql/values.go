package sql

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Reject codes. Every bad row becomes a Reject with one of these, the
// table and key as Ref ("wms.stock_movements/4711") and the row as JSON.
const (
	// RejectNullKey: a key column (or, for tombstones, a record key
	// column) is NULL.
	RejectNullKey = "sql_null_key"
	// RejectBadEncoding: a text value that is not valid UTF-8.
	RejectBadEncoding = "sql_bad_encoding"
	// RejectBadValue: a number, decimal, boolean or quantity that does not
	// parse or is out of range (negative where positive is required, too
	// long, not convertible to the base unit).
	RejectBadValue = "sql_bad_value"
	// RejectBadTime: a time that does not parse, is NULL where required,
	// or is a local time the clocks skipped (DST gap).
	RejectBadTime = "sql_bad_time"
	// RejectUnknownCode: a site code the value map does not know, a unit
	// that is not a UN/ECE code, a value that is not a canonical enum name.
	RejectUnknownCode = "sql_unknown_code"
	// RejectUnknownType: an outbox row whose type has no mapping.
	RejectUnknownType = "sql_unknown_type"
	// RejectBadPayload: a JSON column (outbox payload) that is not JSON.
	RejectBadPayload = "sql_bad_payload"
	// RejectInvalidEvent: the mapped event fails canonical validation
	// (e.g. a required field left NULL); the reason lists every problem.
	RejectInvalidEvent = "sql_invalid_event"
)

// dbValue is a driver value kept in the cursor so that binding it again
// compares equal to what the database stored: JSON numbers for integers,
// strings for text, {"time": RFC 3339 with the offset the driver gave},
// {"float": …} and {"bytes": base64}.
type dbValue struct{ v any }

func (d dbValue) MarshalJSON() ([]byte, error) {
	switch x := d.v.(type) {
	case nil:
		return []byte("null"), nil
	case int64:
		return strconv.AppendInt(nil, x, 10), nil
	case string:
		return json.Marshal(x)
	case bool:
		return json.Marshal(x)
	case time.Time:
		return json.Marshal(map[string]string{"time": x.Format(time.RFC3339Nano)})
	case float64:
		return json.Marshal(map[string]string{"float": strconv.FormatFloat(x, 'g', -1, 64)})
	case []byte:
		return json.Marshal(map[string]string{"bytes": base64.StdEncoding.EncodeToString(x)})
	}
	return nil, fmt.Errorf("cursor: unsupported value type %T", d.v)
}

func (d *dbValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		d.v = nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		d.v = s
	case string(b) == "true" || string(b) == "false":
		d.v = string(b) == "true"
	case len(b) > 0 && b[0] == '{':
		var m map[string]string
		if err := json.Unmarshal(b, &m); err != nil || len(m) != 1 {
			return fmt.Errorf("cursor: bad value %s", b)
		}
		switch {
		case m["time"] != "":
			t, err := time.Parse(time.RFC3339Nano, m["time"])
			if err != nil {
				return fmt.Errorf("cursor: %w", err)
			}
			d.v = t
		case m["float"] != "":
			f, err := strconv.ParseFloat(m["float"], 64)
			if err != nil {
				return fmt.Errorf("cursor: %w", err)
			}
			d.v = f
		case m["bytes"] != "":
			raw, err := base64.StdEncoding.DecodeString(m["bytes"])
			if err != nil {
				return fmt.Errorf("cursor: %w", err)
			}
			d.v = raw
		default:
			return fmt.Errorf("cursor: bad value %s", b)
		}
	default:
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return fmt.Errorf("cursor: bad value %s", b)
		}
		d.v = n
	}
	return nil
}

// normalize turns what drivers return into the few types the connector
// handles: text columns the MySQL driver returns as []byte become strings
// (binary columns stay []byte), ints of other widths become int64.
func normalize(v any, binary bool) any {
	switch x := v.(type) {
	case []byte:
		if binary {
			return bytes.Clone(x)
		}
		return string(x)
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case int8:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		if x <= 1<<63-1 {
			return int64(x)
		}
		return strconv.FormatUint(x, 10)
	case float32:
		return float64(x)
	}
	return v
}

// isBinaryType reports whether a column's database type holds bytes rather
// than text.
func isBinaryType(name string) bool {
	n := strings.ToUpper(name)
	return strings.Contains(n, "BLOB") || strings.Contains(n, "BINARY") || n == "BYTEA" || n == "IMAGE" || n == "ROWVERSION"
}

// keyText renders one key or version value for record keys and refs.
func keyText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return hex.EncodeToString(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// joinKey joins key parts, each path-escaped so that ("a/b","c") and
// ("a","b/c") differ.
func joinKey(vals []any) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(url.PathEscape(keyText(v)))
	}
	return b.String()
}

// rowJSON is a rejected row as a JSON object, column → value. Text that is
// not valid UTF-8 is kept exactly as {"$bytes": base64}.
func rowJSON(names []string, vals []any) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(n)
		b.Write(k)
		b.WriteByte(':')
		var v []byte
		switch x := vals[i].(type) {
		case string:
			if utf8.ValidString(x) {
				v, _ = json.Marshal(x)
			} else {
				v, _ = json.Marshal(map[string]string{"$bytes": base64.StdEncoding.EncodeToString([]byte(x))})
			}
		case []byte:
			v, _ = json.Marshal(map[string]string{"$bytes": base64.StdEncoding.EncodeToString(x)})
		case time.Time:
			v, _ = json.Marshal(x.Format(time.RFC3339Nano))
		case float64:
			v, _ = json.Marshal(strconv.FormatFloat(x, 'g', -1, 64))
		default:
			var err error
			if v, err = json.Marshal(x); err != nil {
				v, _ = json.Marshal(fmt.Sprint(x))
			}
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// toInt64 reads an integer id (outbox, tombstones).
func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case string:
		return strconv.ParseInt(strings.TrimSpace(x), 10, 64)
	case float64:
		if x == float64(int64(x)) {
			return int64(x), nil
		}
	}
	return 0, errors.New("not an integer")
}

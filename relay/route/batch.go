package route

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/draylink/dray/internal/configfile"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/itchyny/gojq"
)

// Batch formats.
const (
	// BatchCloudEvents sends a JSON array of CloudEvents structured events
	// (application/cloudevents-batch+json). Every route of the sink must
	// be in mode cloudevents.
	BatchCloudEvents = "cloudevents"
	// BatchJQ builds the body with a jq expression over the array of item
	// envelopes {method, path, headers, body}.
	BatchJQ = "jq"
	// BatchJSON is the OData 4.01 JSON batch format (also Microsoft Graph's
	// $batch): {"requests":[{"id","method","url","headers","body"}]},
	// answered {"responses":[{"id","status",…}]} in any order. Built and
	// read natively, without jq: the cheapest format.
	BatchJSON = "json-batch"
)

// Batch renders batch request bodies and reads per-item results.
type Batch struct {
	Format  string
	body    *expr // nil: the array of items as is
	results *expr // nil: the response's status applies to every item
}

// CompileBatch checks and compiles a batch format (under path, e.g.
// "sinks[0].batch"). body is a jq expression over the array of item
// envelopes (format jq only; default "."); results is a jq expression over
// the response body yielding one result per item, in item order: a number
// (an HTTP status) or an object with a numeric "status" (optional).
func CompileBatch(path, format, body, results string, errs *configfile.Errors) *Batch {
	before := len(*errs)
	b := &Batch{Format: format}
	switch format {
	case BatchCloudEvents:
		if body != "" {
			errs.Add(path+".body", "not used with format cloudevents")
		}
	case BatchJQ:
		if body != "" {
			b.body = compileField(path+".body", body, errs)
		}
	case BatchJSON:
		if body != "" {
			errs.Add(path+".body", "not used with format json-batch")
		}
		if results != "" {
			errs.Add(path+".results", "not used with format json-batch (responses are matched by id)")
			results = ""
		}
	default:
		errs.Add(path+".format", "want json-batch, cloudevents or jq, got %q", format)
	}
	if results != "" {
		b.results = compileField(path+".results", results, errs)
	}
	if len(*errs) > before {
		return nil
	}
	return b
}

// Body renders the body of a batch request for reqs, and its content type.
func (b *Batch) Body(ctx context.Context, reqs []*Request) ([]byte, string, error) {
	if b.Format == BatchCloudEvents {
		n := 2
		for _, r := range reqs {
			n += len(r.Body) + 1
		}
		buf := make([]byte, 0, n)
		buf = append(buf, '[')
		for i, r := range reqs {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, r.Body...)
		}
		return append(buf, ']'), ContentTypeCloudEventBatch, nil
	}
	if b.Format == BatchJSON {
		return jsonBatchBody(reqs)
	}
	items := make([]any, len(reqs))
	for i, r := range reqs {
		h := make(map[string]any, len(r.Header))
		for k, v := range r.Header {
			if len(v) > 0 && k != "Content-Type" {
				h[k] = v[0]
			}
		}
		item, err := parseValue(r.Body) // a rendered body, or a cloudevents route's event
		if err != nil {
			return nil, "", fmt.Errorf("batch item %d: %w", i, err)
		}
		items[i] = map[string]any{"route": r.Route, "method": r.Method, "path": r.Path, "headers": h, "body": item}
	}
	var v any = items
	if b.body != nil {
		var err error
		if v, err = b.body.first(ctx, items, map[string]any{}); err != nil {
			return nil, "", fmt.Errorf("batch body: %w", err)
		}
	}
	out, err := gojq.Marshal(v)
	if err != nil {
		return nil, "", fmt.Errorf("batch body: %w", err)
	}
	return out, ContentTypeJSON, nil
}

// ItemResult is what a batch response says about one item.
type ItemResult struct {
	// Status is an HTTP status code for the item.
	Status int
	// Detail is the item's result as JSON (capped), for dead letters.
	Detail []byte
}

// maxDetail caps ItemResult.Detail.
const maxDetail = 2048

// Results reads per-item results from a batch response body. ok is false
// when the batch has no results expression or the response does not yield
// exactly n results; the response status then applies to every item.
func (b *Batch) Results(ctx context.Context, body []byte, n int) (res []ItemResult, ok bool, err error) {
	if b.Format == BatchJSON {
		return jsonBatchResults(body, n)
	}
	if b.results == nil {
		return nil, false, nil
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, false, fmt.Errorf("batch results: response is not JSON: %w", err)
	}
	v, err := b.results.first(ctx, doc, map[string]any{})
	if err != nil {
		return nil, false, fmt.Errorf("batch results: %w", err)
	}
	arr, isArr := v.([]any)
	if !isArr {
		return nil, false, fmt.Errorf("batch results: yields %s, not an array", jqType(v))
	}
	if len(arr) != n {
		return nil, false, fmt.Errorf("batch results: %d results for %d items", len(arr), n)
	}
	res = make([]ItemResult, n)
	for i, el := range arr {
		st := el
		if m, isObj := el.(map[string]any); isObj {
			st = m["status"]
		}
		code, good := statusOf(st)
		if !good {
			return nil, false, fmt.Errorf("batch results: item %d has no numeric status", i)
		}
		d, _ := gojq.Marshal(el)
		if len(d) > maxDetail {
			d = d[:maxDetail]
		}
		res[i] = ItemResult{Status: code, Detail: d}
	}
	return res, true, nil
}

func statusOf(v any) (int, bool) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case float64:
		f = x
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if f != math.Trunc(f) || f < 100 || f > 599 {
		return 0, false
	}
	return int(f), true
}

// jsonBatchBody renders an OData JSON batch: sub-request ids are the item
// positions from 1; bodies are spliced in as they were rendered.
func jsonBatchBody(reqs []*Request) ([]byte, string, error) {
	n := 16
	for _, r := range reqs {
		n += len(r.Body) + len(r.Path) + 64
		for k, v := range r.Header {
			n += len(k) + len(v[0]) + 6
		}
	}
	buf := make([]byte, 0, n)
	buf = append(buf, `{"requests":[`...)
	for i, r := range reqs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"id":"`...)
		buf = strconv.AppendInt(buf, int64(i+1), 10)
		buf = append(buf, `","method":`...)
		buf = strconv.AppendQuote(buf, r.Method)
		buf = append(buf, `,"url":`...)
		buf = appendJSONString(buf, r.Path)
		buf = append(buf, `,"headers":{`...)
		first := true
		var small [16]string
		for _, k := range sortedKeys(small[:0], r.Header) {
			if len(r.Header[k]) == 0 {
				continue
			}
			if !first {
				buf = append(buf, ',')
			}
			first = false
			buf = appendJSONString(buf, k)
			buf = append(buf, ':')
			buf = appendJSONString(buf, r.Header[k][0])
		}
		buf = append(buf, `},"body":`...)
		if len(r.Body) == 0 {
			return nil, "", fmt.Errorf("batch item %d: empty body", i)
		}
		buf = append(buf, r.Body...) // JSON: rendered by gojq or canonical
		buf = append(buf, '}')
	}
	buf = append(buf, "]}"...)
	return buf, ContentTypeJSON, nil
}

// jsonBatchResults reads an OData JSON batch answer in one pass over its
// tokens: the id and status of every response; headers and body are
// skipped (validated, not decoded) unless the status is a failure, whose
// response is kept, compacted, as the dead letter's detail. Unknown members
// are ignored; the whole answer must be one valid JSON object.
func jsonBatchResults(body []byte, n int) ([]ItemResult, bool, error) {
	res, err := readJSONBatchResults(jsontext.NewDecoder(bytes.NewReader(body)), n)
	if err != nil {
		return nil, false, fmt.Errorf("batch results: %w", err)
	}
	return res, true, nil
}

func readJSONBatchResults(dec *jsontext.Decoder, n int) ([]ItemResult, error) {
	if err := readDelim(dec, '{'); err != nil {
		return nil, err
	}
	var res []ItemResult
	for dec.PeekKind() != '}' {
		name, err := readName(dec)
		if err != nil {
			return nil, err
		}
		if string(name) != "responses" {
			if err := dec.SkipValue(); err != nil {
				return nil, err
			}
			continue
		}
		if res != nil {
			return nil, errors.New(`"responses" appears twice`)
		}
		if res, err = readJSONBatchResponses(dec, n); err != nil {
			return nil, err
		}
	}
	if err := readDelim(dec, '}'); err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("data after the answer object at offset %d", dec.InputOffset())
	}
	if res == nil {
		return nil, errors.New(`no "responses" array`)
	}
	return res, nil
}

// readJSONBatchResponses reads the "responses" array: exactly n responses
// whose ids are 1…n, each once, in any order.
func readJSONBatchResponses(dec *jsontext.Decoder, n int) ([]ItemResult, error) {
	if err := readDelim(dec, '['); err != nil {
		return nil, err
	}
	res := make([]ItemResult, n)
	seen := make([]bool, n)
	count := 0
	for dec.PeekKind() != ']' {
		r, err := readJSONBatchResponse(dec)
		if err != nil {
			return nil, err
		}
		count++
		i, err := strconv.Atoi(r.id)
		if err != nil || i < 1 || i > n || seen[i-1] {
			return nil, fmt.Errorf("unknown or repeated response id %q", r.id)
		}
		if r.status < 100 || r.status > 599 {
			return nil, fmt.Errorf("response %q has status %d", r.id, r.status)
		}
		seen[i-1] = true
		res[i-1] = ItemResult{Status: r.status, Detail: r.detail}
	}
	if err := readDelim(dec, ']'); err != nil {
		return nil, err
	}
	if count != n {
		return nil, fmt.Errorf("%d responses for %d requests", count, n)
	}
	return res, nil
}

type jsonBatchResponse struct {
	id     string
	status int
	detail []byte // failures only: {"id","status","headers","body"}, capped
}

func readJSONBatchResponse(dec *jsontext.Decoder) (jsonBatchResponse, error) {
	var r jsonBatchResponse
	if err := readDelim(dec, '{'); err != nil {
		return r, err
	}
	var headers, body jsontext.Value
	hasID, hasStatus := false, false
	for dec.PeekKind() != '}' {
		name, err := readName(dec)
		if err != nil {
			return r, err
		}
		key := string(name) // compared, not kept: no copy
		switch key {
		case "id":
			t, err := dec.ReadToken()
			if err != nil {
				return r, err
			}
			if t.Kind() != '"' {
				return r, fmt.Errorf("response id at offset %d is not a string", dec.InputOffset())
			}
			r.id, hasID = t.String(), true
		case "status":
			t, err := dec.ReadToken()
			if err != nil {
				return r, err
			}
			st, ok := intToken(t)
			if !ok {
				return r, fmt.Errorf("response status at offset %d is not an integer", dec.InputOffset())
			}
			r.status, hasStatus = st, true
		case "headers", "body":
			if hasStatus && r.status < 300 { // not kept
				if err := dec.SkipValue(); err != nil {
					return r, err
				}
				continue
			}
			v, err := dec.ReadValue()
			if err != nil {
				return r, err
			}
			if key == "headers" {
				headers = slices.Clone(v)
			} else {
				body = slices.Clone(v)
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return r, err
			}
		}
	}
	if err := readDelim(dec, '}'); err != nil {
		return r, err
	}
	if !hasID || !hasStatus {
		return r, fmt.Errorf("a response without id or status before offset %d", dec.InputOffset())
	}
	if r.status >= 300 {
		// Detail for dead letters only: the response as received.
		d := []byte(`{"id":`)
		d = appendJSONString(d, r.id)
		d = append(d, `,"status":`...)
		d = strconv.AppendInt(d, int64(r.status), 10)
		d = appendRaw(append(d, `,"headers":`...), headers)
		d = appendRaw(append(d, `,"body":`...), body)
		d = append(d, '}')
		if len(d) > maxDetail {
			d = d[:maxDetail]
		}
		r.detail = d
	}
	return r, nil
}

// readName reads an object member name, valid until the next read. Names
// without escapes (all the names this reader looks for) are a slice of the
// input.
func readName(dec *jsontext.Decoder) ([]byte, error) {
	v, err := dec.ReadValue()
	if err != nil {
		return nil, err
	}
	if v.Kind() != '"' {
		return nil, fmt.Errorf("want a member name at offset %d", dec.InputOffset())
	}
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1], nil
	}
	var name string
	err = json.Unmarshal(v, &name)
	return []byte(name), err
}

// appendRaw appends a JSON value compacted, or null when absent.
func appendRaw(buf []byte, v jsontext.Value) []byte {
	if v == nil {
		return append(buf, "null"...)
	}
	_ = v.Compact() // valid: the decoder read it
	return append(buf, v...)
}

// intToken is a JSON number token's value when it is an integer that fits
// an int.
func intToken(t jsontext.Token) (int, bool) {
	if t.Kind() != '0' {
		return 0, false
	}
	i, err := strconv.Atoi(t.String())
	return i, err == nil
}

// readDelim reads one structural token and checks it is delim.
func readDelim(dec *jsontext.Decoder, delim jsontext.Kind) error {
	t, err := dec.ReadToken()
	if err != nil {
		return err
	}
	if t.Kind() != delim {
		return fmt.Errorf("want %v at offset %d, got %v", delim, dec.InputOffset(), t.Kind())
	}
	return nil
}

// sortedKeys appends the header's names to ks, sorted.
func sortedKeys(ks []string, h map[string][]string) []string {
	for k := range h {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// appendJSONString appends s as a JSON string, exactly as json.Marshal
// writes it. Header names and values (several per batch item) are plain
// ASCII that needs no escape: those are copied between quotes; anything
// else goes through json.Marshal (HTML-safe escapes, invalid UTF-8).
func appendJSONString(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}

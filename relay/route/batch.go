package route

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/draylink/dray/internal/configfile"
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
	default:
		errs.Add(path+".format", "want cloudevents or jq, got %q", format)
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
	items := make([]any, len(reqs))
	for i, r := range reqs {
		h := make(map[string]any, len(r.Header))
		for k, v := range r.Header {
			if len(v) > 0 && k != "Content-Type" {
				h[k] = v[0]
			}
		}
		item := r.Item
		if item == nil { // a cloudevents route on a jq batch: the event as a value
			var v any
			dec := json.NewDecoder(bytes.NewReader(r.Body))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				return nil, "", fmt.Errorf("batch item %d: %w", i, err)
			}
			item = v
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

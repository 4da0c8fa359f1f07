package refsink

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/textproto"
	"reflect"
	"strconv"
	"testing"

	"github.com/valyala/fasthttp"
)

// jsonInputs are bodies the fast readers must treat exactly as
// encoding/json does, including the ones they leave to it.
var jsonInputs = []string{
	`{"movementType":"311","material":"AF-1002","plant":"MEM1","quantity":"12.500","unit":"EA"}`,
	" {\n  \"a\" : [1, 2.5e3, -0, true, false, null],\t\"b\": {\"c\": \"d e\"} }\r\n",
	`{"esc":"\u00e9\n\"\\\/\ud83d\ude00 <&> \u2028","raw":"é😀"}`,
	`{"dup":1,"dup":2}`, `{"a":[1,{"b":"c d"}],"e":-1.5e+3}`, `[1,2]3`, `{"a":"\t"}`, "{\"a\":\"\t\"}",
	"{\"bad\":\"\xff\xfe\"}",
	`{"lone":"\ud800"}`,
	`[]`, `{}`, `"s"`, `12`, `null`,
	`{"a":1}{"b":2}`, `{"a":1} x`, `{"a":}`, `{"a":1`, ``, `   `, `{'a':1}`, `[1,]`, `01`, `{"a":"` + "\x01" + `"}`,
}

func TestCompactJSONMatchesEncodingJSON(t *testing.T) {
	for _, in := range jsonInputs {
		var want bytes.Buffer
		wantErr := json.Compact(&want, []byte(in))
		got, err := compactJSON([]byte("prefix"), []byte(in))
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Errorf("%q: error %v, encoding/json %v", in, err, wantErr)
			continue
		}
		if err == nil && string(got) != "prefix"+want.String() {
			t.Errorf("%q: got %s, encoding/json %s", in, got, want.Bytes())
		}
		if isCompactJSON([]byte(in), false) && (wantErr != nil || want.String() != in) {
			t.Errorf("%q: isCompactJSON, but encoding/json compacts it to %q (error %v)", in, want.Bytes(), wantErr)
		}
	}
}

func TestDecodeAnyMatchesEncodingJSON(t *testing.T) {
	for _, in := range jsonInputs {
		var want any
		d := json.NewDecoder(bytes.NewReader([]byte(in)))
		d.UseNumber()
		wantErr := d.Decode(&want)
		got, err := decodeAny([]byte(in))
		if (err == nil) != (wantErr == nil) || (err != nil && err.Error() != wantErr.Error()) {
			t.Errorf("%q: error %v, encoding/json %v", in, err, wantErr)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: got %#v, encoding/json %#v", in, got, want)
		}
	}
}

// relayBatch is a /v1/batch body as relay/route renders it.
const relayBatch = `{"requests":[{"id":"1","method":"POST","url":"/erp/v1/goods-movements","headers":{"Ce-Id":"e1","Content-Type":"application/json","Dray-Site":"MEM1","Idempotency-Key":"k1","Traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},"body":{"material":"AF-1002","movementType":"311","plant":"MEM1","quantity":"1","unit":"EA"}},` +
	`{"id":"2","method":"POST","url":"/erp/v1/goods-movements","headers":{"Idempotency-Key":"k2"},"body":{"material":"AF-1002","movementType":"311","plant":"MEM1","quantity":"2","unit":"EA"}}]}`

func TestReadSubRequestsFastMatchesDecodeStrict(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fast bool // the fast path must take it
	}{
		{relayBatch, true},
		{`[{"route":"moves","method":"POST","path":"/erp/v1/goods-movements","headers":{"Idempotency-Key":"k","dray-site":"X","Dray-Site":"Y"},"body":{"a":[1, 2]}}]`, true},
		{" {\"requests\": [ {\"id\":\"é\\u00e9\", \"body\" : \"s\"} ] }\n", true},
		{`{"requests":[{"method":"P\u004fST","url":"\u0000x","headers":{"Idempotency\u002dKey":"k","\u0000x":"1","dray-site":"S"},"body":{}},` +
			`{"method":"POST","url":"x","headers":{"Idempotency-Key":"k2","x":"2","dray-site":"S"},"body":{}}]}`, true},
		{`{"requests":[]}`, true},
		{`[]`, true},
		{`{"requests":[{"body":null}]}`, false},
		{`{"requests":[{"ID":"x","body":{}}]}`, false},
		{`{"requests":[{"id":"1","id":"2","body":{}}]}`, false},
		{`{"requests":[{"body":{}}],"requests":[]}`, false},
		{`[{"headers":{"A":"1","a":"2","A":"3"},"body":{"a":1,"a":2}}]`, true},
		{`{"requests":[{"id":1,"body":{}}]}`, false},
		{`{"requests":[{"headers":{"A":1},"body":{}}]}`, false},
		{`{"requests":[{"headers":null,"body":{}}]}`, false},
		{`{"requests":[{"extra":1,"body":{}}]}`, false},
		{`{"requests":[{"body":{}}]} {}`, false},
		{`{"requests":[1]}`, false},
		{`{"requests":null}`, false},
		{`{}`, false},
		{"[{\"id\":\"\xff\",\"body\":{}}]", false},
		{`{"requests":[{"body":{"a":1,"a":2}}]}`, true},
	} {
		got, ok := readSubRequestsFast([]byte(tc.in), erpResolver)
		if ok != tc.fast {
			t.Errorf("%s: fast path took it: %v, want %v", tc.in, ok, tc.fast)
		}
		if !ok {
			continue
		}
		q := &request{raw: []byte(tc.in)}
		var br jsonBatchRequest
		var err error
		if t := bytes.TrimLeft(q.raw, " \n"); t[0] == '[' {
			err = decodeStrict(q.raw, &br.Requests)
		} else {
			err = decodeStrict(q.raw, &br)
		}
		if err != nil {
			t.Errorf("%s: fast path took what encoding/json refuses: %v", tc.in, err)
			continue
		}
		if len(got) != len(br.Requests) {
			t.Fatalf("%s: %d requests, encoding/json %d", tc.in, len(got), len(br.Requests))
		}
		for i, sr := range br.Requests {
			g := got[i]
			headers := map[string]string{}
			for _, f := range g.headers {
				headers[f.name] = f.value // a repeated name: the last wins, as in the map
			}
			for _, f := range g.headers {
				if f.canon != textproto.CanonicalMIMEHeaderKey(f.name) {
					t.Errorf("%s: header %q: canonical %q", tc.in, f.name, f.canon)
				}
			}
			if g.id != sr.ID || g.method != sr.Method || g.url != sr.URL || g.path != sr.Path ||
				string(g.body) != string(sr.Body) || !maps.Equal(headers, sr.Headers) && len(sr.Headers)+len(headers) > 0 {
				t.Errorf("%s: request %d: got %+v, encoding/json %+v", tc.in, i, g, sr)
			}
		}
	}
}

func TestSubHeadersOverTheBatch(t *testing.T) {
	var batch fasthttp.RequestHeader
	// Names as a client sends them: fasthttp makes them canonical.
	batch.Add("dray-site", "B")
	batch.Add("Idempotency-Key", "batch-key")
	batch.Add("traceparent", "tp")
	batch.Add("Traceparent", "tp2")
	h := &subHeaders{batch: batchHeadersOf(&batch), fields: []headerField{
		{"dray-site", "Dray-Site", "S1"}, {"Dray-Site", "Dray-Site", "S2"}, {"x y", "x y", "v"},
	}}
	for name, want := range map[string]string{"Dray-Site": "S2", "Traceparent": "tp", "Idempotency-Key": "", "X-Y": "", "Ce-Type": ""} {
		if got := h.Get(name); got != want {
			t.Errorf("Get(%s) = %q, want %q", name, got, want)
		}
	}
}

// writeJSONBatchReflect is how the answer was written with encoding/json.
func writeJSONBatchReflect(results []result, ids []string) []byte {
	out := struct {
		Responses []jsonSubResponse `json:"responses"`
	}{Responses: make([]jsonSubResponse, len(results))}
	for i, res := range results {
		h := map[string]string{"Content-Type": contentTypeJSON}
		if res.status >= 400 {
			h["Content-Type"] = contentTypeProblem
		}
		if res.location != "" {
			h["Location"] = res.location
		}
		if res.replayed {
			h[headerReplayed] = "true"
		}
		id := strconv.Itoa(i + 1)
		if i < len(ids) {
			id = ids[i]
		}
		out.Responses[i] = jsonSubResponse{ID: id, Status: res.status, Headers: h, Body: res.body}
	}
	b, _ := json.Marshal(out)
	return b
}

func TestWriteJSONBatchMatchesEncodingJSON(t *testing.T) {
	tricky := "q\"b\\s/\n\r\t\b\f\x01\x1f<>&é\u2028\u2029\xff😀"
	results := []result{
		{status: 201, body: appendApplied(nil, &appliedBody{DocumentID: "490000000001", Resource: "goods-movements", Status: "applied", IdempotencyKey: tricky}, nil), location: "/erp/v1/goods-movements/490000000001", success: true},
		{status: 201, body: []byte(`{"documentId":"490000000001","idempotencyKey":"a<b"}`), location: "/x/" + tricky, replayed: true, success: true},
		{status: 422, body: problemJSON(422, ptValidation, "Invalid goods movement", tricky, "/erp/v1/goods-movements", []problem{{"/unit", "required", "unit is required"}})},
		{status: 404},
	}
	for _, ids := range [][]string{{"1", tricky, "", "4"}, {"a"}, nil} {
		want := writeJSONBatchReflect(results, ids)
		if got := appendJSONBatch(nil, results, ids); !bytes.Equal(got, want) {
			t.Errorf("ids %q:\ngot  %s\nwant %s", ids, got, want)
		}
	}
}

func TestDocumentIDAsSprintf(t *testing.T) {
	r := resourceByName("goods-movements")
	for _, seq := range []uint64{1, 7, 1234567890, 12345678901, 1<<64 - 1} {
		if got, want := documentID(r, seq), r.prefix+fmt.Sprintf("%010d", seq); got != want {
			t.Errorf("documentID(%d) = %s, want %s", seq, got, want)
		}
	}
}

// TestFillEmptyBatchBody: a batch item without a body is refused with
// json.Compact's words, as before the fast readers.
func TestFillEmptyBatchBody(t *testing.T) {
	s := &Server{cfg: Config{Kind: KindERP}}
	res := resourceByName("goods-movements")
	var want bytes.Buffer
	wantErr := json.Compact(&want, nil)
	for _, valid := range []bool{true, false} {
		it := &item{format: formatJSON}
		s.fill(it, res, "", nil, valid, nil)
		if it.status != fasthttp.StatusBadRequest || it.ptype != ptMalformed || wantErr == nil || it.detail != wantErr.Error() {
			t.Errorf("valid=%v: %d %s %q; want 400 malformed-json %q", valid, it.status, it.ptype, it.detail, wantErr)
		}
	}
}

// erpResolver resolves sub-request URLs as an ERP server does.
var erpResolver = (&Server{cfg: Config{Kind: KindERP}}).resolveURL

// TestBodyCheckedWhileRead: a plain JSON body after its method, URL and
// headers is validated while the batch is read, with the same outcome as
// validateBody; other bodies are left to fill.
func TestBodyCheckedWhileRead(t *testing.T) {
	gm := `"method":"POST","url":"/erp/v1/goods-movements","headers":{"Content-Type":"application/json"}`
	in := `[{` + gm + `,"body": {"movementType":"311","material":"M","plant":"P","quantity":"1","unit":"EA","eventId":"e1"}},` +
		`{` + gm + `,"body":{"movementType":"","quantity":12,"unit":"each","items":[1]}},` +
		`{"body":{"movementType":"311"},` + gm + `},` +
		`{"method":"POST","url":"goods-movements","headers":{"Content-Type":"application/cloudevents+json"},"body":{}},` +
		`{"method":"POST","url":"freight-invoices","headers":{"Content-Type":"application/json"},"body":{}},` +
		`{"method":"GET","url":"goods-movements","headers":{"Content-Type":"application/json"},"body":{}}]`
	subs, ok := readSubRequestsFast([]byte(in), erpResolver)
	if !ok || len(subs) != 6 {
		t.Fatalf("fast path: %v, %d requests", ok, len(subs))
	}
	for i, sr := range subs {
		if (sr.check != nil) != (i < 2) {
			t.Errorf("request %d: checked while read: %v", i, sr.check != nil)
		}
		if sr.check == nil {
			continue
		}
		probs, eventID, ok := sr.check.res.validateBody(sr.body)
		if !ok || !reflect.DeepEqual(sr.check.probs, probs) || sr.check.eventID != eventID {
			t.Errorf("request %d: checked %v %q, validateBody %v %q (%v)", i, sr.check.probs, sr.check.eventID, probs, eventID, ok)
		}
		if sr.body[0] != '{' || sr.body[len(sr.body)-1] != '}' {
			t.Errorf("request %d: body %q", i, sr.body)
		}
	}
	if len(subs[1].check.probs) == 0 {
		t.Error("the invalid body has no problems")
	}
}

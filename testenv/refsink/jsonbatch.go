package refsink

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/textproto"
	"slices"
	"strconv"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/valyala/fasthttp"
)

// POST /erp/v1/batch and /tms/v1/batch: a JSON batch of sub-requests, each
// a single POST to one resource with its own headers.

// jsonBatchRequest is the body of POST /erp/v1/batch and /tms/v1/batch,
// shaped like an OData 4.01 JSON batch.
type jsonBatchRequest struct {
	Requests []jsonSubRequest `json:"requests"`
}

// jsonSubRequest is one request of a /v1/batch body. Path is what the
// relay's default batch body (its rendered requests, relay/route) calls
// URL, and Route is its route name (ignored).
type jsonSubRequest struct {
	ID      string            `json:"id"`
	Route   string            `json:"route"`
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// subRequest is a jsonSubRequest as the items are built from it: headers
// in the order they were sent (a later one wins), names canonical.
type subRequest struct {
	id, method, url, path string
	headers               []headerField
	body                  []byte
	check                 *bodyCheck // the body validated as it was read, or nil
}

// bodyCheck is what res.validateBody says of a body, found while the
// batch was read: a plain JSON body that follows its method, URL and
// headers (as the relay writes them) is validated in the same pass, not
// tokenised a second time.
type bodyCheck struct {
	res     *resource
	probs   []problem
	eventID string
}

// validate is res.validateBody(body), or what c found of it already (c
// may be nil).
func (c *bodyCheck) validate(res *resource, body []byte) (probs []problem, eventID string, ok bool) {
	if c != nil && c.res == res {
		return c.probs, c.eventID, true
	}
	return res.validateBody(body)
}

// headerField is one sub-request header; name is the raw name, canon its
// canonical form (textproto.CanonicalMIMEHeaderKey).
type headerField struct{ name, canon, value string }

// subHeaders are a sub-request's headers over the batch request's, as
// http.Header.Get sees them: a sub-request header replaces the batch's
// header of the same canonical name, and the batch's Idempotency-Key is
// never inherited (each sub-request names its own).
type subHeaders struct {
	fields []headerField
	batch  batchHeaders
}

// batchHeaders are the first values of the batch request's headers, as
// http.Header.Get returns them for a canonical name (read once for all the
// sub-requests).
type batchHeaders map[string]string

func batchHeadersOf(h *fasthttp.RequestHeader) batchHeaders {
	b := make(batchHeaders, 16)
	for k, v := range h.All() {
		// fasthttp keeps names canonical (as textproto does); the first
		// value of a name wins, as in http.Header.Get.
		name := string(k)
		if _, dup := b[name]; !dup {
			b[name] = string(v)
		}
	}
	return b
}

// Get returns the value of header name, which must be canonical.
func (h *subHeaders) Get(name string) string {
	for i := len(h.fields) - 1; i >= 0; i-- {
		if h.fields[i].canon == name {
			return h.fields[i].value
		}
	}
	if name == headerIdempotencyKey {
		return ""
	}
	return h.batch[name]
}

// readSubRequests decodes a /v1/batch body: {"requests":[…]} or the relay's
// default, a bare array of its rendered requests (q.arrayForm).
func (s *Server) readSubRequests(q *request) ([]subRequest, error) {
	t := bytes.TrimLeft(q.raw, " \t\r\n")
	q.arrayForm = len(t) > 0 && t[0] == '['
	if subs, ok := readSubRequestsFast(q.raw, s.resolveURL); ok {
		return subs, nil
	}
	var br jsonBatchRequest
	var err error
	if q.arrayForm {
		err = decodeStrict(q.raw, &br.Requests)
	} else {
		err = decodeStrict(q.raw, &br)
	}
	if err != nil {
		return nil, err
	}
	subs := make([]subRequest, len(br.Requests))
	for i, sr := range br.Requests {
		subs[i] = subRequest{id: sr.ID, method: sr.Method, url: sr.URL, path: sr.Path, body: sr.Body}
		for _, k := range slices.Sorted(maps.Keys(sr.Headers)) {
			subs[i].headers = append(subs[i].headers, headerField{k, textproto.CanonicalMIMEHeaderKey(k), sr.Headers[k]})
		}
	}
	return subs, nil
}

// readSubRequestsFast is the jsontext path of readSubRequests (see
// jsondecode.go). It takes the body only when decodeStrict would decode it
// to the same requests: member names exactly as tagged, each once, strings
// where strings are due, a body that is not null, no trailing data; for
// anything else ok is false and decodeStrict decides. Repeated names are
// let through to be checked here, where they matter: a repeated header
// ends as decodeStrict's map ends (the last one wins), and a body is only
// a value here (fill reads it).
func readSubRequestsFast(raw []byte, resolve func(url string) (*resource, string)) (subs []subRequest, ok bool) {
	dec := decoders.Get().(*jsontext.Decoder)
	defer decoders.Put(dec)
	dec.Reset(bytes.NewBuffer(raw), jsontext.AllowDuplicateNames(true))
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, false
	}
	wrapped := tok.Kind() == '{'
	if wrapped {
		name, err := dec.ReadToken()
		if err != nil || name.Kind() != '"' || name.String() != "requests" {
			return nil, false
		}
		if tok, err = dec.ReadToken(); err != nil {
			return nil, false
		}
	}
	if tok.Kind() != '[' {
		return nil, false
	}
	rd := newSubReader(raw)
	rd.resolve = resolve
	subs = make([]subRequest, 0, len(raw)/512+1) // a relay item is ~500 bytes
	for dec.PeekKind() == '{' {
		sr, ok := readSubRequest(dec, rd)
		if !ok {
			return nil, false
		}
		subs = append(subs, sr)
	}
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != ']' {
		return nil, false
	}
	if wrapped {
		if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '}' {
			return nil, false
		}
	}
	return subs, atEOF(dec) == nil
}

// subRequestMembers are jsonSubRequest's member names.
var subRequestMembers = [...]string{"id", "route", "method", "url", "path", "headers", "body"}

// readSubRequest reads one sub-request object; its strings and body are
// slices of the batch's (rd).
func readSubRequest(dec *jsontext.Decoder, rd *subReader) (sr subRequest, ok bool) {
	if _, err := dec.ReadToken(); err != nil {
		return sr, false
	}
	var seen [len(subRequestMembers)]bool
	for dec.PeekKind() == '"' {
		name, err := dec.ReadToken()
		if err != nil {
			return sr, false
		}
		m := slices.Index(subRequestMembers[:], name.String())
		if m < 0 || seen[m] {
			return sr, false
		}
		seen[m] = true
		switch subRequestMembers[m] {
		case "id":
			sr.id, ok = rd.read(dec)
		case "route":
			_, ok = rd.read(dec)
		case "method":
			sr.method, ok = rd.read(dec)
		case "url":
			sr.url, ok = rd.read(dec)
		case "path":
			sr.path, ok = rd.read(dec)
		case "headers":
			sr.headers, ok = readHeaderFields(dec, rd)
		case "body":
			if res := rd.checkable(&sr); res != nil && dec.PeekKind() == '{' {
				ok = rd.readChecked(dec, &sr, res)
				break
			}
			v, err := dec.ReadValue()
			ok = err == nil && v.Kind() != 'n'
			if ok {
				end := int(dec.InputOffset())
				sr.body = rd.raw[end-len(v) : end : end]
			}
		}
		if !ok {
			return sr, false
		}
	}
	tok, err := dec.ReadToken()
	return sr, err == nil && tok.Kind() == '}'
}

// subReader is what the sub-requests of one batch share while they are
// read: the body as one string, whose substrings are the strings without
// escapes (header names and values, ids, methods, URLs: no allocation
// each), the canonical forms of header names (at most maxInterned), and
// the storage of the header fields.
type subReader struct {
	resolve func(url string) (*resource, string) // Server.resolveURL
	raw     []byte
	text    string // string(raw)
	canon   map[string]string
	// fields holds the header fields of all the sub-requests (each has a
	// slice of it): one allocation per batch, not per item.
	fields []headerField
}

const maxInterned = 256

func newSubReader(raw []byte) *subReader {
	// A relay item has five or six headers in ~500 bytes.
	return &subReader{raw: raw, text: string(raw), canon: map[string]string{}, fields: make([]headerField, 0, len(raw)/96+1)}
}

// read reads a JSON string (not null).
func (rd *subReader) read(dec *jsontext.Decoder) (string, bool) {
	v, err := dec.ReadValue()
	if err != nil || v.Kind() != '"' {
		return "", false
	}
	if bytes.IndexByte(v, '\\') >= 0 {
		u, err := jsontext.AppendUnquote(nil, v)
		return string(u), err == nil
	}
	end := int(dec.InputOffset())
	return rd.text[end-len(v)+1 : end-1], true
}

// canonical is textproto.CanonicalMIMEHeaderKey(name), shared.
func (rd *subReader) canonical(name string) string {
	if c, ok := rd.canon[name]; ok {
		return c
	}
	c := textproto.CanonicalMIMEHeaderKey(name)
	if len(rd.canon) < maxInterned {
		rd.canon[name] = c
	}
	return c
}

// checkable returns the resource a body about to be read will be
// validated against as plain JSON, if what came before it says so: a POST
// to a resource without cross-field checks, with a JSON Content-Type
// (fillSub decides the same way).
func (rd *subReader) checkable(sr *subRequest) *resource {
	ct := ""
	for _, f := range sr.headers {
		if strings.EqualFold(f.name, "Content-Type") {
			ct = f.value
		}
	}
	if !strings.EqualFold(sr.method, http.MethodPost) || mediaType(ct) != contentTypeJSON {
		return nil
	}
	res, _ := rd.resolve(first(sr.url, sr.path))
	if res == nil || res.check != nil {
		return nil
	}
	return res
}

// readChecked reads the body object dec is at and validates it against
// res as validateBody does (same decoder options).
func (rd *subReader) readChecked(dec *jsontext.Decoder, sr *subRequest, res *resource) bool {
	start := int(dec.InputOffset()) // after the member name: ':', maybe spaces, then '{'
	chk := &bodyCheck{res: res}
	if validateTokens(dec, res.fields, "", &chk.probs, &chk.eventID) != nil {
		return false
	}
	end := int(dec.InputOffset())
	start += bytes.IndexByte(rd.raw[start:end], '{')
	sr.body, sr.check = rd.raw[start:end:end], chk
	return true
}

// readHeaderFields reads an object of string members.
func readHeaderFields(dec *jsontext.Decoder, rd *subReader) ([]headerField, bool) {
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, false
	}
	start := len(rd.fields)
	for dec.PeekKind() == '"' {
		name, _ := rd.read(dec)
		value, ok := rd.read(dec)
		if !ok {
			return nil, false
		}
		rd.fields = append(rd.fields, headerField{name, rd.canonical(name), value})
	}
	tok, err := dec.ReadToken()
	hs := rd.fields[start:len(rd.fields):len(rd.fields)]
	return hs, err == nil && tok.Kind() == '}'
}

// jsonBatchItems: each sub-request is a single POST to one resource, with
// its own headers (Idempotency-Key, Content-Type, …) over the batch's.
func (s *Server) jsonBatchItems(q *request, base *item) ([]*item, bool) {
	subs, err := s.readSubRequests(q)
	if err != nil {
		base.reject(http.StatusBadRequest, ptMalformed, "Malformed batch",
			`want {"requests":[{"id","method","url","headers","body"}]} or [{"method","path","headers","body"}]: `+err.Error())
		return []*item{base}, true
	}
	if bad := s.batchSize(base, len(subs)); bad {
		return []*item{base}, true
	}
	items := make([]*item, len(subs))
	all := make([]item, len(subs))
	q.subIDs = make([]string, len(subs))
	batch := batchHeadersOf(&q.c.ctx.Request.Header)
	for i := range subs {
		q.subIDs[i] = first(subs[i].id, strconv.Itoa(i+1))
		all[i] = *base
		items[i] = &all[i]
		s.fillSub(q, items[i], &subs[i], batch)
	}
	return items, false
}

// fillSub completes the item of one sub-request (it starts as the batch's
// base item).
func (s *Server) fillSub(q *request, it *item, sr *subRequest, batch batchHeaders) {
	url := first(sr.url, sr.path)
	h := &subHeaders{fields: sr.headers, batch: batch}
	it.body = nil
	it.meta = headerMeta(h, q.principal)
	reject := func(status int, ptype, title, detail string) {
		it.sum = sha256.Sum256(sr.body)
		it.reject(status, ptype, title, detail)
	}
	res, id := s.resolveURL(url)
	switch {
	case !strings.EqualFold(sr.method, http.MethodPost):
		reject(http.StatusMethodNotAllowed, ptMethodNotAllowed, "Method not allowed", "only POST is supported in a batch")
		return
	case res == nil:
		reject(http.StatusNotFound, ptNotFound, "No such resource", fmt.Sprintf("%q is not a %s resource", url, s.cfg.Kind))
		return
	}
	it.res, it.path = res, res.itemPath(id)
	ct := ""
	for _, f := range sr.headers {
		if strings.EqualFold(f.name, "Content-Type") {
			ct = f.value
		}
	}
	if ct == "" {
		// Not said for the item: a body with a specversion member is a
		// structured CloudEvent (a cloudevents route in a jq batch).
		ct = contentTypeJSON
		if looksLikeCloudEvent(sr.body) {
			ct = contentTypeCE
		}
	}
	switch mediaType(ct) {
	case contentTypeJSON:
		it.format = formatJSON
	case contentTypeCE:
		it.format = formatCE
	default:
		reject(http.StatusUnsupportedMediaType, ptMediaType, "Unsupported media type", ct)
		return
	}
	key, kerr := parseIdempotencyKey(h.Get(headerIdempotencyKey))
	if kerr != nil {
		reject(http.StatusBadRequest, kerr.ptype, kerr.title, kerr.detail)
		return
	}
	it.key = key
	s.fill(it, res, id, sr.body, true, sr.check)
	it.format = formatJSONBatch
}

// looksLikeCloudEvent reports whether body is a JSON object with a
// top-level specversion member.
func looksLikeCloudEvent(body []byte) bool {
	if !bytes.Contains(body, []byte(`"specversion"`)) {
		return false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return false
	}
	_, ok := top["specversion"]
	return ok
}

// resolveURL maps a sub-request URL ("/erp/v1/goods-movements",
// "goods-movements", "shipments/S1/milestones") to a resource of this
// flavour.
func (s *Server) resolveURL(u string) (*resource, string) {
	u, _, _ = strings.Cut(u, "?")
	p := strings.TrimPrefix(u, "/")
	p = strings.TrimPrefix(p, string(s.cfg.Kind)+"/v1/")
	for _, r := range resourcesOf(s.cfg.Kind) {
		if r.name == "milestones" {
			rest, ok := strings.CutPrefix(p, "shipments/")
			id, ok2 := strings.CutSuffix(rest, "/milestones")
			if ok && ok2 && id != "" && !strings.Contains(id, "/") {
				return r, id
			}
			continue
		}
		if p == r.name {
			return r, ""
		}
	}
	return nil, ""
}

// jsonSubResponse is one element of the answer's "responses".
type jsonSubResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers"`
	Body    json.RawMessage   `json:"body"`
}

// appendJSONBatch appends the answer {"responses":[…]} to b, by hand byte for byte
// as encoding/json wrote a struct of jsonSubResponse (header names sorted,
// HTML-sensitive characters escaped): reflection and re-validating every
// body cost more than the rest of the answer.
func appendJSONBatch(b []byte, results []result, ids []string) []byte {
	size := 16
	for _, res := range results {
		size += 128 + len(res.body) + len(res.location)
	}
	b = slices.Grow(b, size)
	b = append(b, `{"responses":[`...)
	for i, res := range results {
		if i > 0 {
			b = append(b, ',')
		}
		id := strconv.Itoa(i + 1)
		if i < len(ids) {
			id = ids[i]
		}
		b = append(b, `{"id":`...)
		b = appendMarshaledString(b, id)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(res.status), 10)
		b = append(b, `,"headers":{"Content-Type":`...)
		if res.status >= 400 {
			b = append(b, `"`+contentTypeProblem+`"`...)
		} else {
			b = append(b, `"`+contentTypeJSON+`"`...)
		}
		if res.replayed {
			b = append(b, `,"`+headerReplayed+`":"true"`...)
		}
		if res.location != "" {
			b = append(b, `,"Location":`...)
			b = appendMarshaledString(b, res.location)
		}
		b = append(b, `},"body":`...)
		b = appendMarshaledRaw(b, res.body)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}

package refsink

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/draylink/dray/canonical"
)

// Formats recorded in Record.Format.
const (
	formatJSON      = "json"
	formatCE        = "cloudevents"
	formatCEBatch   = "cloudevents-batch"
	formatBatch     = "batch"
	formatJSONBatch = "json-batch"
)

// batchResource is the pseudo-resource name of /erp/v1/batch and
// /tms/v1/batch for the Faults.Resources filter.
const batchResource = "batch"

// mode is which kind of route a request came in on.
type mode int

const (
	modeSingle    mode = iota // POST /erp/v1/goods-movements
	modeBatch                 // POST /erp/v1/goods-movements:batch
	modeJSONBatch             // POST /erp/v1/batch
)

// request is a business request being turned into items.
type request struct {
	c         *call
	res       *resource // nil for /…/v1/batch
	mode      mode
	principal string
	mt        string   // media type of the Content-Type
	raw       []byte   // the body: fasthttp's buffer, valid until the handler returns
	subIDs    []string // ids of /v1/batch sub-requests
	arrayForm bool     // /v1/batch body was a bare array: answer with results
}

// business serves one route of resource res (nil: the flavour's /v1/batch).
func (s *Server) business(res *resource, m mode) handler {
	faultName := batchResource
	if res != nil {
		faultName = res.name
	}
	return func(c *call) {
		ctx := c.ctx
		d := s.faults.decide(faultName)
		if d.outage {
			s.faults.fired(func(st *FaultStats) { st.Outage++ })
			ctx.Response.Header.Set("Retry-After", retryAfterSeconds(d.retryAfter))
			writeProblem(ctx, fasthttp.StatusServiceUnavailable, ptUnavailable, "Service unavailable", "planned outage (fault knob)", c.path)
			return
		}
		principal, desc, ok := s.auth.authenticate(ctx)
		if !ok {
			challenge(c, desc)
			return
		}
		if d.delay > 0 {
			s.faults.fired(func(st *FaultStats) { st.Delayed++; st.DelayedTotal += Duration(d.delay) })
			switch s.delay(ctx, d.delay) {
			case delayClientGone:
				dropConnection(ctx)
				return
			case delayShutdown:
				writeProblem(ctx, fasthttp.StatusServiceUnavailable, ptUnavailable, "Service unavailable", "shutting down", c.path)
				return
			}
		}
		if d.rateLimited {
			s.faults.fired(func(st *FaultStats) { st.RateLimited++ })
			ctx.Response.Header.Set("Retry-After", retryAfterSeconds(d.retryAfter))
			writeProblem(ctx, fasthttp.StatusTooManyRequests, ptRateLimited, "Too many requests", "rate limit (fault knob)", c.path)
			return
		}
		if d.errStatus != 0 {
			s.faults.fired(func(st *FaultStats) { st.Errors++ })
			writeProblem(ctx, d.errStatus, ptInjected, http.StatusText(d.errStatus), "injected error (fault knob)", c.path)
			return
		}

		// From here the request will append to the ledger: concurrent ones
		// share an fsync (see ledgerFile.arrive).
		leave := s.st.led.arrive()
		defer leave()
		req := &request{c: c, res: res, mode: m, principal: principal,
			mt: mediaType(string(ctx.Request.Header.ContentType()))}
		items, whole := s.itemsOf(req)
		results, err := s.st.apply(items, d.drop, leave)
		if err != nil {
			s.log.Error("ledger append failed", "err", err)
			writeProblem(ctx, fasthttp.StatusServiceUnavailable, ptLedgerFailed, "Ledger unavailable", "the request was not applied", c.path)
			return
		}
		if d.drop && anySuccess(results) {
			s.faults.fired(func(st *FaultStats) { st.Dropped++ })
			dropConnection(ctx)
			return
		}
		switch {
		case whole || (m == modeSingle && req.mt != contentTypeCEBatch):
			writeResult(ctx, results[0])
		case m == modeJSONBatch && req.mt == contentTypeJSON && !req.arrayForm:
			writeBody(ctx, fasthttp.StatusOK, contentTypeJSON, appendJSONBatch(nil, results, req.subIDs))
		default:
			writeBatch(ctx, items, results)
		}
	}
}

func anySuccess(rs []result) bool {
	for _, r := range rs {
		if r.success {
			return true
		}
	}
	return false
}

// dropConnection closes the client connection without an answer, once the
// handler has returned.
func dropConnection(ctx *fasthttp.RequestCtx) {
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) { _ = c.Close() })
}

// What a delay ended with.
const (
	delayDone       = iota // the delay passed
	delayClientGone        // the client closed the connection
	delayShutdown          // the server is shutting down
)

// delay waits d. Meanwhile it watches the connection, as net/http does
// for a request's context: a client that closes it has given up, and the
// request is not processed. The connection is idle while the handler runs
// (fasthttp reads the next request after the answer), so the watcher may
// read it; a byte it reads is the start of a pipelined request, which is
// then lost: the connection is closed after the answer, and the client
// sends it again on a new one.
func (s *Server) delay(ctx *fasthttp.RequestCtx, d time.Duration) int {
	conn := ctx.Conn()
	gone := make(chan struct{})
	watched := make(chan bool, 1) // whether the watcher read a byte
	go func() {
		var b [1]byte
		n, err := conn.Read(b[:])
		var ne net.Error
		if timeout := errors.As(err, &ne) && ne.Timeout(); n == 0 && err != nil && !timeout {
			close(gone)
		}
		watched <- n > 0
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	out := delayDone
	select {
	case <-t.C:
	case <-gone:
		out = delayClientGone
	case <-s.quit:
		out = delayShutdown
	}
	// Stop the watcher: a read deadline in the past wakes it. fasthttp
	// sets the deadline again before it reads the next request.
	_ = conn.SetReadDeadline(time.Unix(1, 0))
	if <-watched {
		ctx.SetConnectionClose()
	}
	return out
}

func writeResult(ctx *fasthttp.RequestCtx, res result) {
	ct := contentTypeJSON
	if res.status >= 400 {
		ct = contentTypeProblem
	}
	if res.location != "" {
		ctx.Response.Header.Set("Location", res.location)
	}
	if res.replayed {
		ctx.Response.Header.Set(headerReplayed, "true")
	}
	writeBody(ctx, res.status, ct, res.body)
}

// BatchResult is one item of a batch answer (BatchResponse).
type BatchResult struct {
	Index          int             `json:"index"`
	Status         int             `json:"status"`
	IdempotencyKey string          `json:"idempotencyKey,omitempty"`
	Replayed       bool            `json:"replayed,omitempty"`
	Location       string          `json:"location,omitempty"`
	Body           json.RawMessage `json:"body"`
}

// BatchResponse is the answer to a …:batch request or a CloudEvents batch.
type BatchResponse struct {
	Applied  int           `json:"applied"`
	Replayed int           `json:"replayed"`
	Failed   int           `json:"failed"`
	Results  []BatchResult `json:"results"`
}

func writeBatch(ctx *fasthttp.RequestCtx, items []*item, results []result) {
	// By hand: encoding/json would re-validate every item's body.
	var applied, replayed, failed int
	size := 64
	for i, res := range results {
		switch {
		case res.replayed:
			replayed++
		case res.success:
			applied++
		default:
			failed++
		}
		size += 96 + len(res.body) + len(res.location) + len(items[i].key)
	}
	b := make([]byte, 0, size)
	b = append(b, `{"applied":`...)
	b = strconv.AppendInt(b, int64(applied), 10)
	b = append(b, `,"replayed":`...)
	b = strconv.AppendInt(b, int64(replayed), 10)
	b = append(b, `,"failed":`...)
	b = strconv.AppendInt(b, int64(failed), 10)
	b = append(b, `,"results":[`...)
	for i, res := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"index":`...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(res.status), 10)
		b = appendStr(b, "idempotencyKey", items[i].key, true)
		if res.replayed {
			b = append(b, `,"replayed":true`...)
		}
		b = appendStr(b, "location", res.location, true)
		b = append(b, `,"body":`...)
		b = append(b, res.body...)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	writeBody(ctx, fasthttp.StatusOK, contentTypeJSON, b)
}

// ---- turning a request into items ----

// itemsOf reads the body and builds the items. whole reports a failure of
// the request as such (one rejected item, answered as a plain problem).
// An item whose own body was not hashed (a request refused as a whole, a
// batch item without a body) records the hash of the request body.
func (s *Server) itemsOf(q *request) (items []*item, whole bool) {
	items, whole = s.readItems(q)
	var rawSum *[32]byte
	for _, it := range items {
		if it.sum == ([32]byte{}) {
			if rawSum == nil {
				sum := sha256.Sum256(q.raw)
				rawSum = &sum
			}
			it.sum = *rawSum
		}
	}
	return items, whole
}

// readItems is itemsOf before the hashes of the request body.
func (s *Server) readItems(q *request) (items []*item, whole bool) {
	h := reqHeaders{&q.c.ctx.Request.Header}
	base := &item{res: q.res, format: formatJSON, meta: headerMeta(h, q.principal)}
	if q.res != nil {
		base.path = q.res.itemPath(q.c.id)
	} else {
		base.path = q.c.path
	}
	if q.mode == modeSingle {
		base.key, _ = parseIdempotencyKey(h.Get(headerIdempotencyKey))
	}
	raw, err := body(q.c, s.cfg.MaxBodyBytes)
	q.raw = raw
	if err != nil {
		base.reject(http.StatusRequestEntityTooLarge, ptTooLarge, "Payload too large", fmt.Sprintf("the body exceeds %d bytes", s.cfg.MaxBodyBytes))
		return []*item{base}, true
	}
	mt := q.mt
	switch {
	case mt == contentTypeCEBatch:
		base.format = formatCEBatch
		return s.ceBatchItems(q, base)
	case q.mode == modeJSONBatch && mt == contentTypeJSON:
		base.format = formatJSONBatch
		return s.jsonBatchItems(q, base)
	case q.mode == modeBatch && mt == contentTypeJSON:
		base.format = formatBatch
		return s.arrayBatchItems(q, base)
	case q.mode == modeSingle && (mt == contentTypeJSON || mt == contentTypeCE):
		if mt == contentTypeCE {
			base.format = formatCE
		}
		key, err := parseIdempotencyKey(h.Get(headerIdempotencyKey))
		if err != nil {
			base.reject(http.StatusBadRequest, err.ptype, err.title, err.detail)
			return []*item{base}, true
		}
		base.key = key
		s.fill(base, q.res, q.c.id, raw, false, nil)
		return []*item{base}, true
	}
	base.reject(http.StatusUnsupportedMediaType, ptMediaType, "Unsupported media type",
		fmt.Sprintf("%q is not accepted here; want %s", mt, accepted(q.mode)))
	return []*item{base}, true
}

func accepted(m mode) string {
	switch m {
	case modeSingle:
		return contentTypeJSON + ", " + contentTypeCE + " or " + contentTypeCEBatch
	default:
		return contentTypeJSON + " or " + contentTypeCEBatch
	}
}

// keyError is why an Idempotency-Key is refused.
type keyError struct{ ptype, title, detail string }

// parseIdempotencyKey accepts the key bare or as a structured-field string
// ("…", as the IETF draft writes it): 1 to 255 visible ASCII characters.
func parseIdempotencyKey(v string) (string, *keyError) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", &keyError{ptKeyMissing, "Idempotency-Key is missing", "this operation requires an Idempotency-Key header"}
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
	}
	if v == "" || len(v) > maxIdempotencyKeySize {
		return "", &keyError{ptKeyInvalid, "Idempotency-Key is invalid", fmt.Sprintf("want 1 to %d visible ASCII characters", maxIdempotencyKeySize)}
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return "", &keyError{ptKeyInvalid, "Idempotency-Key is invalid", "only visible ASCII characters are allowed"}
		}
	}
	return v, nil
}

// headerGetter is a request's headers (reqHeaders), or a /v1/batch
// sub-request's headers over the batch's (subHeaders).
type headerGetter interface{ Get(name string) string }

// reqHeaders are a request's headers as http.Header.Get reads them: the
// first value of a name.
type reqHeaders struct{ h *fasthttp.RequestHeader }

// Get returns the first value of header name (a copy).
func (h reqHeaders) Get(name string) string { return string(h.h.Peek(name)) }

// headerMeta reads the ledger metadata a request carries in headers.
func headerMeta(h headerGetter, principal string) meta {
	return meta{
		eventID:       h.Get(headerCEID),
		eventType:     h.Get(headerCEType),
		site:          first(h.Get(headerSite), h.Get("Ce-Siteid")),
		correlationID: first(h.Get(headerCorrelationID), h.Get("Ce-Correlationid"), h.Get(headerXCorrelationID)),
		traceparent:   h.Get(headerTraceparent),
		partitionKey:  first(h.Get(headerPartitionKey), h.Get("Ce-Partitionkey")),
		principal:     principal,
	}
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// fill completes a single item from its body: plain JSON (it.format json)
// or a CloudEvent in structured mode (cloudevents and batch items). valid
// says raw was read as one JSON value already (a batch item); pre, if not
// nil, is what validating it against pre.res said.
func (s *Server) fill(it *item, res *resource, id string, raw []byte, valid bool, pre *bodyCheck) {
	body, err := raw, error(nil)
	if !isCompactJSON(raw, valid) {
		body, err = compactJSON(make([]byte, 0, len(raw)), raw)
	}
	if err != nil {
		it.sum = sha256.Sum256(raw)
		it.reject(http.StatusBadRequest, ptMalformed, "Malformed JSON", err.Error())
		return
	}
	it.body = body
	it.sum = sha256.Sum256(it.body)
	if it.format == formatCE || it.format == formatCEBatch {
		s.fillEvent(it, res, id)
		return
	}
	it.res = res
	it.path = res.itemPath(id)
	if res.name == "milestones" && it.meta.partitionKey == "" {
		it.meta.partitionKey = "shipment/" + id
	}
	if probs, eventID, ok := pre.validate(res, it.body); ok {
		if it.meta.eventID == "" {
			it.meta.eventID = eventID
		}
		if len(probs) > 0 {
			it.reject(http.StatusUnprocessableEntity, ptValidation, "Invalid "+res.title, fmt.Sprintf("%d problem(s)", len(probs)), probs...)
		}
		return
	}
	v, err := decodeAny(it.body)
	if err != nil {
		it.reject(http.StatusBadRequest, ptMalformed, "Malformed JSON", err.Error())
		return
	}
	obj, ok := v.(map[string]any)
	if !ok {
		it.reject(http.StatusUnprocessableEntity, ptValidation, "Invalid "+res.title, "the body must be a JSON object",
			problem{"", "wrong_type", "want an object"})
		return
	}
	if it.meta.eventID == "" {
		it.meta.eventID, _ = obj["eventId"].(string)
	}
	if probs := res.validate(obj, id); len(probs) > 0 {
		it.reject(http.StatusUnprocessableEntity, ptValidation, "Invalid "+res.title, fmt.Sprintf("%d problem(s)", len(probs)), probs...)
	}
}

// syntaxCodes are canonical decode errors that mean "not JSON" (400) rather
// than "JSON the model refuses" (422).
var syntaxCodes = map[string]bool{
	"syntax_error": true, "unexpected_eof": true, "trailing_data": true, "invalid_utf8": true,
	"invalid_escape": true, "invalid_surrogate": true, "control_character": true, "duplicate_key": true,
}

// fillEvent completes a CloudEvents item: the event is decoded with the
// canonical strict decoder and checked with canonical.Validate, so what a
// route sends unchanged is held to the model's rules. res may be nil (the
// /v1/batch route): the event's type chooses the resource.
func (s *Server) fillEvent(it *item, res *resource, id string) {
	ev, err := canonical.UnmarshalJSON(it.body)
	if err != nil {
		var de *canonical.DecodeError
		if errors.As(err, &de) && !syntaxCodes[de.Code] {
			it.res, it.path = res, pathOf(res, id, it.path)
			it.reject(http.StatusUnprocessableEntity, ptValidation, "Invalid CloudEvent", de.Msg,
				problem{pointerOf(de.Path), de.Code, de.Msg})
			return
		}
		it.reject(http.StatusBadRequest, ptMalformed, "Malformed CloudEvent", err.Error())
		return
	}
	defer ev.ReturnToVTPool()
	it.meta.eventID, it.meta.eventType = ev.GetId(), ev.GetType()
	if ts := ev.GetTime(); ts != nil {
		t := ts.AsTime()
		it.meta.eventTime = &t
	}
	if c := ev.GetCorrelationId(); c != "" {
		it.meta.correlationID = c
	}
	if tp := ev.GetTraceparent(); tp != "" {
		it.meta.traceparent = tp
	}
	if pk := ev.GetPartitionKey(); pk != "" {
		it.meta.partitionKey = pk
	}
	if it.format == formatCEBatch {
		it.key = first(ev.GetIdempotencyKey(), ev.GetId())
	}
	subjectID, isShipment := strings.CutPrefix(ev.GetSubject(), "shipment/")
	if res == nil {
		res = routeByType(s.cfg.Kind, ev.GetType())
		if res == nil {
			it.meta.site = first(ev.GetSiteId(), it.meta.site)
			it.reject(http.StatusUnprocessableEntity, ptTypeNotAccepted, "Event type not accepted",
				fmt.Sprintf("no %s resource takes %s on this route; post it to its resource", s.cfg.Kind, ev.GetType()))
			return
		}
		if res.name == "milestones" {
			id = subjectID
		}
	}
	it.res, it.path = res, res.itemPath(id)
	if res.name == "milestones" && it.meta.partitionKey == "" {
		it.meta.partitionKey = "shipment/" + id
	}
	site := ev.GetSiteId()
	if it.meta.site != "" && site != "" && it.meta.site != site {
		it.reject(http.StatusUnprocessableEntity, ptValidation, "Invalid CloudEvent", "site mismatch",
			problem{"/siteid", "site_mismatch", fmt.Sprintf("siteid %s differs from the %s header %s", site, headerSite, it.meta.site)})
		return
	}
	it.meta.site = first(site, it.meta.site)
	if !res.acceptsType(ev.GetType()) {
		it.reject(http.StatusUnprocessableEntity, ptTypeNotAccepted, "Event type not accepted",
			fmt.Sprintf("%s does not take %s (it takes %s)", res.name, ev.GetType(), strings.Join(res.ceTypes, ", ")),
			problem{"/type", "type_not_accepted", ev.GetType()})
		return
	}
	if res.name == "milestones" && (!isShipment || subjectID != id) {
		it.reject(http.StatusUnprocessableEntity, ptValidation, "Invalid CloudEvent", "subject mismatch",
			problem{"/subject", "shipment_mismatch", fmt.Sprintf("subject %q is not shipment/%s", ev.GetSubject(), id)})
		return
	}
	if err := canonical.Validate(ev); err != nil {
		var ve *canonical.ValidationError
		if !errors.As(err, &ve) {
			it.reject(http.StatusUnprocessableEntity, ptValidation, "Invalid CloudEvent", err.Error())
			return
		}
		probs := make([]problem, len(ve.Problems))
		for i, p := range ve.Problems {
			probs[i] = problem{pointerOf(p.Path), p.Code, p.Message}
		}
		it.reject(http.StatusUnprocessableEntity, ptValidation, "Invalid CloudEvent", fmt.Sprintf("%d problem(s)", len(probs)), probs...)
	}
}

func pathOf(res *resource, id, fallback string) string {
	if res == nil {
		return fallback
	}
	return res.itemPath(id)
}

// routeByType picks the resource of kind that takes an event type (used by
// /v1/batch). Retractions are refused there: they belong to the resource
// they retract.
func routeByType(k Kind, typ string) *resource {
	if typ == "logistics.event.retracted" {
		return nil
	}
	for _, r := range resourcesOf(k) {
		if r.acceptsType(typ) {
			return r
		}
	}
	return nil
}

// pointerOf turns a canonical field path ("data.lines[2].sku") into a JSON
// Pointer ("/data/lines/2/sku").
func pointerOf(path string) string {
	if path == "" {
		return ""
	}
	r := strings.NewReplacer(".", "/", "[", "/", "]", "")
	return "/" + r.Replace(path)
}

// ceBatchItems: a JSON array of structured CloudEvents; each event's key is
// its idempotencykey attribute, else its id.
func (s *Server) ceBatchItems(q *request, base *item) ([]*item, bool) {
	var elems []json.RawMessage
	if err := json.Unmarshal(q.raw, &elems); err != nil {
		base.reject(http.StatusBadRequest, ptMalformed, "Malformed CloudEvents batch", "want a JSON array of events: "+err.Error())
		return []*item{base}, true
	}
	if bad := s.batchSize(base, len(elems)); bad {
		return []*item{base}, true
	}
	items := make([]*item, len(elems))
	for i, el := range elems {
		it := *base
		it.body, it.key = nil, ""
		s.fill(&it, q.res, q.c.id, el, true, nil)
		items[i] = &it
	}
	return items, false
}

func (s *Server) batchSize(base *item, n int) bool {
	switch {
	case n == 0:
		base.reject(http.StatusUnprocessableEntity, ptValidation, "Empty batch", "a batch needs at least one item")
	case n > s.cfg.MaxBatchItems:
		base.reject(http.StatusRequestEntityTooLarge, ptTooLarge, "Batch too large", fmt.Sprintf("%d items; at most %d", n, s.cfg.MaxBatchItems))
	default:
		return false
	}
	return true
}

// arrayItem is one element of a …:batch array.
type arrayItem struct {
	IdempotencyKey string          `json:"idempotencyKey"`
	EventID        string          `json:"eventId"`
	EventType      string          `json:"eventType"`
	Site           string          `json:"site"`
	CorrelationID  string          `json:"correlationId"`
	Traceparent    string          `json:"traceparent"`
	PartitionKey   string          `json:"partitionKey"`
	Body           json.RawMessage `json:"body"`
}

// arrayBatchItems: POST …:batch with a JSON array of {idempotencyKey, body,
// …metadata}.
func (s *Server) arrayBatchItems(q *request, base *item) ([]*item, bool) {
	var elems []json.RawMessage
	if err := json.Unmarshal(q.raw, &elems); err != nil {
		base.reject(http.StatusBadRequest, ptMalformed, "Malformed batch", "want a JSON array of {idempotencyKey, body}: "+err.Error())
		return []*item{base}, true
	}
	if bad := s.batchSize(base, len(elems)); bad {
		return []*item{base}, true
	}
	items := make([]*item, len(elems))
	for i, el := range elems {
		it := *base
		it.body = nil
		items[i] = &it
		var ai arrayItem
		if err := decodeStrict(el, &ai); err != nil {
			it.sum = sha256.Sum256(el)
			it.reject(http.StatusUnprocessableEntity, ptValidation, "Invalid batch item", err.Error(),
				problem{fmt.Sprintf("/%d", i), "invalid_item", err.Error()})
			continue
		}
		it.meta.eventID = first(ai.EventID, it.meta.eventID)
		it.meta.eventType = first(ai.EventType, it.meta.eventType)
		it.meta.site = first(ai.Site, it.meta.site)
		it.meta.correlationID = first(ai.CorrelationID, it.meta.correlationID)
		it.meta.traceparent = first(ai.Traceparent, it.meta.traceparent)
		it.meta.partitionKey = first(ai.PartitionKey, it.meta.partitionKey)
		key, kerr := parseIdempotencyKey(ai.IdempotencyKey)
		if kerr != nil {
			it.sum = sha256.Sum256(ai.Body)
			it.reject(http.StatusBadRequest, kerr.ptype, kerr.title, kerr.detail,
				problem{fmt.Sprintf("/%d/idempotencyKey", i), "required", kerr.detail})
			continue
		}
		it.key = key
		if len(ai.Body) == 0 {
			it.reject(http.StatusUnprocessableEntity, ptValidation, "Invalid batch item", "body is required",
				problem{fmt.Sprintf("/%d/body", i), "required", "body is required"})
			continue
		}
		s.fill(&it, q.res, q.c.id, ai.Body, true, nil)
	}
	return items, false
}

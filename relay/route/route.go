package route

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/internal/configfile"
	"github.com/draylink/dray/internal/wire"
)

// Modes of a route.
const (
	// ModeJQ sends the output of the transform expression as JSON.
	ModeJQ = "jq"
	// ModeCloudEvents sends the event unchanged, as CloudEvents structured
	// JSON (application/cloudevents+json).
	ModeCloudEvents = "cloudevents"
)

// Content types.
const (
	ContentTypeJSON            = "application/json"
	ContentTypeCloudEvents     = "application/cloudevents+json; charset=utf-8"
	ContentTypeCloudEventBatch = "application/cloudevents-batch+json; charset=utf-8"
)

// Config is one route as written in the relay configuration (routes[i]).
type Config struct {
	// Name identifies the route in dead letters, logs and metrics.
	Name string `yaml:"name"`
	// Sink is the name of the sink the route sends to.
	Sink  string      `yaml:"sink"`
	Match MatchConfig `yaml:"match"`
	// Mode is "jq" (default) or "cloudevents".
	Mode string `yaml:"mode"`
	// Method is the HTTP method (default POST).
	Method string `yaml:"method"`
	// Path is a jq expression yielding the request path (and query), which
	// must start with "/"; it is appended to the sink's URL.
	Path string `yaml:"path"`
	// Transform is a jq expression yielding the request body (mode jq).
	Transform string `yaml:"transform"`
	// Headers are static headers added to every request of the route.
	Headers map[string]string `yaml:"headers"`
	// DropNulls removes object members whose value is null from the
	// transform's output, at every depth (mode jq), so optional fields can
	// be mapped plainly instead of with with_entries(select(...)), which
	// costs several times more.
	DropNulls bool `yaml:"drop_nulls"`
}

// MatchConfig selects events. Empty fields match everything.
type MatchConfig struct {
	// Types are event types, exact ("logistics.shipment.shipped") or a
	// prefix ending in "*" ("logistics.shipment.*").
	Types []string `yaml:"types"`
	// Sites are site ids.
	Sites []string `yaml:"sites"`
	// Lane is "operational" or "bulk".
	Lane string `yaml:"lane"`
	// Filter is a jq expression over the event's CloudEvents JSON; the
	// event matches when its first output is neither false nor null.
	Filter string `yaml:"filter"`
}

// reservedHeaders are set by the relay on every request; routes may not
// set them.
var reservedHeaders = []string{"Idempotency-Key", "Traceparent", "X-Correlation-Id", "Dray-Site", "Ce-Id",
	"Content-Type", "Content-Length", "Authorization", "Host"}

// Route is a compiled route.
type Route struct {
	Name, Sink string
	Mode       string
	Method     string

	types     map[string]bool
	prefixes  []string
	sites     map[string]bool
	lane      canonical.Lane // 0: any
	filter    *expr          // nil: none
	path      *expr
	body      *expr // nil in cloudevents mode
	dropNulls bool
	headers   http.Header
}

// Validate reports every problem of the route under path (e.g. "routes[2]"),
// including jq compile errors.
func (c *Config) Validate(path string, errs *configfile.Errors) {
	Compile(path, *c, errs)
}

// Compile checks and compiles a route; problems go to errs under path, and
// Compile returns nil if there was any.
func Compile(path string, c Config, errs *configfile.Errors) *Route {
	before := len(*errs)
	r := &Route{Name: c.Name, Sink: c.Sink, Mode: c.Mode, Method: strings.ToUpper(c.Method),
		types: map[string]bool{}, headers: http.Header{}, dropNulls: c.DropNulls}
	if r.Mode == "" {
		r.Mode = ModeJQ
	}
	if r.Method == "" {
		r.Method = http.MethodPost
	}
	if c.Name == "" {
		errs.Add(path+".name", "required")
	}
	if c.Sink == "" {
		errs.Add(path+".sink", "required")
	}
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		errs.Add(path+".method", "want POST, PUT or PATCH, got %q", c.Method)
	}
	for i, t := range c.Match.Types {
		p := fmt.Sprintf("%s.match.types[%d]", path, i)
		if prefix, ok := strings.CutSuffix(t, "*"); ok {
			if !slices.ContainsFunc(canonical.TypeNames(), func(n string) bool { return strings.HasPrefix(n, prefix) }) {
				errs.Add(p, "%q matches no event type", t)
			}
			r.prefixes = append(r.prefixes, prefix)
			continue
		}
		if _, ok := canonical.LookupType(t); !ok {
			errs.Add(p, "unknown event type %q", t)
		}
		r.types[t] = true
	}
	if len(c.Match.Sites) > 0 {
		r.sites = map[string]bool{}
		for i, s := range c.Match.Sites {
			if s == "" {
				errs.Add(fmt.Sprintf("%s.match.sites[%d]", path, i), "empty site id")
			}
			r.sites[s] = true
		}
	}
	if c.Match.Lane != "" {
		l, ok := wire.ParseLane(c.Match.Lane)
		if !ok {
			errs.Add(path+".match.lane", "want operational or bulk, got %q", c.Match.Lane)
		}
		r.lane = l
	}
	if c.Match.Filter != "" {
		r.filter = compileField(path+".match.filter", c.Match.Filter, errs)
	}
	if c.Path == "" {
		errs.Add(path+".path", `required: a jq expression yielding the path, e.g. "/erp/v1/goods-issues"`)
	} else {
		r.path = compileField(path+".path", c.Path, errs)
	}
	switch r.Mode {
	case ModeJQ:
		if c.Transform == "" {
			errs.Add(path+".transform", "required in mode jq")
		} else {
			r.body = compileField(path+".transform", c.Transform, errs)
		}
	case ModeCloudEvents:
		if c.Transform != "" {
			errs.Add(path+".transform", "not used in mode cloudevents (the event is sent unchanged)")
		}
		if c.DropNulls {
			errs.Add(path+".drop_nulls", "not used in mode cloudevents (the event is sent unchanged)")
		}
	default:
		errs.Add(path+".mode", "want jq or cloudevents, got %q", c.Mode)
	}
	for name, v := range c.Headers {
		hp := path + ".headers." + name
		canon := http.CanonicalHeaderKey(name)
		switch {
		case !validHeaderName(name):
			errs.Add(hp, "not a valid header name")
		case slices.Contains(reservedHeaders, canon):
			errs.Add(hp, "set by the relay; a route may not set it")
		case strings.ContainsAny(v, "\r\n"):
			errs.Add(hp, "value contains a line break")
		}
		r.headers.Set(canon, v)
	}
	if len(*errs) > before {
		return nil
	}
	return r
}

func compileField(path, src string, errs *configfile.Errors) *expr {
	e, err := compileExpr(src)
	if err != nil {
		errs.Add(path, "%v", err)
	}
	return e
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && strings.IndexByte("!#$%&'*+-.^_`|~", c) < 0 {
			return false
		}
	}
	return true
}

// RenderError is an event a route cannot turn into a request (a filter,
// path or transform that fails or yields the wrong kind of value). It is
// permanent for the event under this route's configuration: the event
// goes to the dead-letter store, and a redrive after a fix renders it again.
type RenderError struct {
	Route, Field string
	Err          error
}

func (e *RenderError) Error() string {
	return fmt.Sprintf("route %s: %s: %v", e.Route, e.Field, e.Err)
}

func (e *RenderError) Unwrap() error { return e.Err }

// Match reports whether the route takes the event. The static criteria
// are checked before the filter, so most events never reach jq.
func (r *Route) Match(ctx context.Context, ev *Event) (bool, error) {
	if r.lane != 0 && ev.Lane != r.lane {
		return false, nil
	}
	if r.sites != nil && !r.sites[ev.Site] {
		return false, nil
	}
	if len(r.types) > 0 || len(r.prefixes) > 0 {
		t := ev.Event.GetType()
		if !r.types[t] && !slices.ContainsFunc(r.prefixes, func(p string) bool { return strings.HasPrefix(t, p) }) {
			return false, nil
		}
	}
	if r.filter == nil {
		return true, nil
	}
	var relay map[string]any
	if r.filter.usesRelay {
		relay = ev.relayVar(r.Name, r.Sink)
	}
	v, docErr, err := r.filter.onEvent(ctx, ev, relay)
	if docErr != nil {
		return false, &RenderError{Route: r.Name, Field: "match.filter", Err: docErr}
	}
	if errors.Is(err, errNoOutput) {
		return false, nil
	}
	if err != nil {
		return false, &RenderError{Route: r.Name, Field: "match.filter", Err: err}
	}
	return v != nil && v != false, nil
}

// Request is a rendered request, before the sink adds its URL and
// credentials.
type Request struct {
	Route  string
	Method string
	// Path starts with "/" and may carry a query.
	Path   string
	Header http.Header
	Body   []byte
}

// Render builds the request for an event the route matched.
func (r *Route) Render(ctx context.Context, ev *Event) (*Request, error) {
	req := &Request{Route: r.Name, Method: r.Method, Header: r.headers.Clone()}
	var relay map[string]any
	if r.path.usesRelay || r.body != nil && r.body.usesRelay {
		relay = ev.relayVar(r.Name, r.Sink)
	}
	p, docErr, err := r.path.onEvent(ctx, ev, relay)
	if docErr != nil {
		return nil, &RenderError{Route: r.Name, Field: "event", Err: docErr}
	}
	if err != nil {
		return nil, &RenderError{Route: r.Name, Field: "path", Err: err}
	}
	path, ok := p.(string)
	if !ok {
		return nil, &RenderError{Route: r.Name, Field: "path", Err: fmt.Errorf("yields %s, not a string", jqType(p))}
	}
	if err := checkPath(path); err != nil {
		return nil, &RenderError{Route: r.Name, Field: "path", Err: err}
	}
	req.Path = path
	if r.body != nil {
		v, docErr, err := r.body.onEvent(ctx, ev, relay)
		if docErr != nil {
			return nil, &RenderError{Route: r.Name, Field: "event", Err: docErr}
		}
		if err != nil {
			return nil, &RenderError{Route: r.Name, Field: "transform", Err: err}
		}
		req.Body = appendJQ(make([]byte, 0, renderBuf), v, r.dropNulls)
		req.Header.Set("Content-Type", ContentTypeJSON)
	} else {
		b, err := ev.JSON()
		if err != nil {
			return nil, &RenderError{Route: r.Name, Field: "event", Err: err}
		}
		req.Body = b
		req.Header.Set("Content-Type", ContentTypeCloudEvents)
	}
	SetEventHeaders(req.Header, ev.Event)
	return req, nil
}

// renderBuf is the first size of a rendered body's buffer: most mapped
// bodies fit.
const renderBuf = 512

// SetEventHeaders sets the headers every request about an event carries:
// Idempotency-Key, traceparent, X-Correlation-ID, dray-site and ce-id.
func SetEventHeaders(h http.Header, ev *canonical.Event) {
	key := ev.GetIdempotencyKey()
	if key == "" {
		key = ev.GetId()
	}
	h.Set("Idempotency-Key", key)
	tp := ev.GetTraceparent()
	if !validTraceparent(tp) {
		tp = newTraceparent(ev.GetId())
	}
	h.Set("Traceparent", tp)
	if c := ev.GetCorrelationId(); c != "" {
		h.Set("X-Correlation-ID", c)
	}
	h.Set("Dray-Site", ev.GetSiteId())
	h.Set("Ce-Id", ev.GetId())
}

// validTraceparent accepts W3C version-00 trace context headers.
func validTraceparent(tp string) bool {
	if len(tp) != 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' {
		return false
	}
	for i, c := range []byte(tp) {
		if i == 2 || i == 35 || i == 52 {
			continue
		}
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return tp[3:35] != strings.Repeat("0", 32) && tp[36:52] != strings.Repeat("0", 16)
}

// newTraceparent starts a trace for an event that came without one. The
// trace id is the event id's hex (a UUID is 16 bytes, like a trace id), so
// every attempt, retry and replay of the event lands in one trace; the
// span id is new. Ids come from math/rand/v2's per-thread ChaCha8 source:
// random as W3C Trace Context asks, not secrets, and without the
// crypto/rand call per request that was ~2 % of a batched delivery.
func newTraceparent(eventID string) string {
	const hexDigits = "0123456789abcdef"
	var b [55]byte
	copy(b[:], "00-")
	digits := 0 // the id's characters other than dashes
	for i := 0; i < len(eventID); i++ {
		if c := eventID[i]; c != '-' {
			if digits < 32 {
				b[3+digits] = c
			}
			digits++
		}
	}
	if trace := b[3:35]; digits != 32 || !isLowerHex(string(trace)) || string(trace) == strings.Repeat("0", 32) {
		for i, r := 3, rand.Uint64(); i < 35; i++ { //nolint:gosec // trace ids are not secrets
			if i == 19 {
				r = rand.Uint64() //nolint:gosec // trace ids are not secrets
			}
			b[i] = hexDigits[r&15]
			r >>= 4
		}
		if string(b[3:35]) == strings.Repeat("0", 32) {
			b[3] = '1'
		}
	}
	b[35] = '-'
	span := rand.Uint64() | 1 //nolint:gosec // never all zero; not a secret
	for i := 36; i < 52; i++ {
		b[i] = hexDigits[span&15]
		span >>= 4
	}
	copy(b[52:], "-01")
	return string(b[:])
}

func isLowerHex(s string) bool {
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkPath refuses paths that would leave the sink's URL: sink URLs come
// from configuration only.
func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return fmt.Errorf("%q does not start with a single /", p)
	}
	if strings.ContainsAny(p, " \r\n\t#\\") {
		return fmt.Errorf("%q contains a space, a control character, # or \\ (use @uri)", p)
	}
	u, err := url.Parse(p)
	if err != nil || u.Host != "" || u.Scheme != "" {
		return fmt.Errorf("%q is not a path", p)
	}
	for seg := range strings.SplitSeq(u.Path, "/") {
		if seg == ".." || seg == "." {
			return fmt.Errorf("%q contains a dot segment", p)
		}
	}
	return nil
}

func jqType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case json.Number, int, float64:
		return "a number"
	default:
		return fmt.Sprintf("%T", v)
	}
}

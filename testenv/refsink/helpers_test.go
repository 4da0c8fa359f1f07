package refsink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/draylink/dray/testenv/refsink"
)

// sink is a server under test, served in-process over loopback TCP.
type sink struct {
	t      *testing.T
	srv    *refsink.Server
	url    string       // base URL
	stop   func() error // stops serving (StartLoopback)
	client *refsink.Client
	dir    string
}

// newSink starts a server of kind with a fresh data directory; mutate may
// adjust the configuration.
func newSink(t *testing.T, kind refsink.Kind, mutate func(*refsink.Config)) *sink {
	t.Helper()
	return openSink(t, kind, t.TempDir(), mutate)
}

// openSink starts a server on an existing data directory.
func openSink(t *testing.T, kind refsink.Kind, dir string, mutate func(*refsink.Config)) *sink {
	t.Helper()
	cfg := refsink.Config{Kind: kind, DataDir: dir}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := refsink.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url, stop, err := srv.StartLoopback(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{t: t, srv: srv, url: url, stop: stop, client: refsink.NewClient(url), dir: dir}
	t.Cleanup(s.close)
	return s
}

// close stops serving and closes the ledger (idempotent).
func (s *sink) close() {
	if err := s.stop(); err != nil {
		s.t.Errorf("close: %v", err)
	}
}

// resp is a response read whole.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return m
}

// post sends body (bytes, string or a value to marshal) with an
// Idempotency-Key (if key != "") and extra headers (name, value pairs).
func (s *sink) post(path, key, contentType string, body any, headers ...string) resp {
	s.t.Helper()
	r, err := s.tryPost(http.DefaultClient, path, key, contentType, body, headers...)
	if err != nil {
		s.t.Fatal(err)
	}
	return r
}

func (s *sink) tryPost(hc *http.Client, path, key, contentType string, body any, headers ...string) (resp, error) {
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return resp{}, err
		}
	}
	req, err := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(b))
	if err != nil {
		return resp{}, err
	}
	req.Header.Set("Content-Type", contentType)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := hc.Do(req)
	if err != nil {
		return resp{}, err
	}
	defer res.Body.Close()
	rb, err := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: rb}, err
}

func (s *sink) stats() refsink.LedgerStats {
	s.t.Helper()
	st, err := s.client.Stats(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

func (s *sink) records(q refsink.LedgerQuery) []refsink.Record {
	s.t.Helper()
	recs, err := s.client.Records(context.Background(), q)
	if err != nil {
		s.t.Fatal(err)
	}
	return recs
}

func (s *sink) faultStats() refsink.FaultStats {
	s.t.Helper()
	st, err := s.client.FaultStats(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

func (s *sink) setFaults(f refsink.Faults) {
	s.t.Helper()
	if err := s.client.SetFaults(context.Background(), f); err != nil {
		s.t.Fatal(err)
	}
}

func wantStatus(t *testing.T, r resp, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d; want %d; body %s", r.status, want, r.body)
	}
}

// problemOf decodes an RFC 9457 problem body.
type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Pointer string `json:"pointer"`
		Code    string `json:"code"`
	} `json:"errors"`
}

func problemOf(t *testing.T, r resp) problemDoc {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q; want application/problem+json (body %s)", ct, r.body)
	}
	var p problemDoc
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode problem %s: %v", r.body, err)
	}
	if p.Status != r.status {
		t.Fatalf("problem status %d; response status %d", p.Status, r.status)
	}
	return p
}

func (p problemDoc) has(pointer, code string) bool {
	for _, e := range p.Errors {
		if e.Pointer == pointer && e.Code == code {
			return true
		}
	}
	return false
}

// event reads a CloudEvent fixture from testdata/events.
func event(t testing.TB, typ string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "events", "logistics."+typ+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// editEvent decodes a fixture, applies edit and re-encodes it.
func editEvent(t testing.TB, typ string, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(event(t, typ), &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeClock is an adjustable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Valid bodies, one per resource, and the path each is posted to.
var valid = []struct {
	kind     refsink.Kind
	resource string
	path     string
	body     string
	// changed is the same request with one business field changed.
	changed string
}{
	{refsink.KindERP, "goods-movements", "/erp/v1/goods-movements",
		`{"movementType":"311","material":"AF-1002","plant":"MEM1","storageLocation":"RECV","toStorageLocation":"A-01-02","batch":"L2502C","quantity":"288","unit":"EA","occurredAt":"2025-03-14T06:12:40-05:00"}`,
		`{"movementType":"311","material":"AF-1002","plant":"MEM1","storageLocation":"RECV","toStorageLocation":"A-01-02","batch":"L2502C","quantity":"289","unit":"EA","occurredAt":"2025-03-14T06:12:40-05:00"}`},
	{refsink.KindERP, "goods-issues", "/erp/v1/goods-issues",
		`{"delivery":"80001234","plant":"MEM1","issuedAt":"2025-03-14T15:48:00-05:00","shipmentId":"SHP25031407","carrierScac":"XMPL","items":[{"item":"000010","material":"AF-1002","quantity":"288","unit":"EA"}]}`,
		`{"delivery":"80001234","plant":"MEM1","issuedAt":"2025-03-14T15:48:00-05:00","shipmentId":"SHP25031407","carrierScac":"XMPL","items":[{"item":"000010","material":"AF-1002","quantity":"276","unit":"EA"}]}`},
	{refsink.KindERP, "proofs-of-delivery", "/erp/v1/proofs-of-delivery",
		`{"delivery":"80001234","shipmentId":"SHP25031407","deliveredAt":"2025-03-17T09:12:00-04:00","signedBy":"J. DOE","items":[{"material":"AF-1002","deliveredQuantity":"276","unit":"EA","damagedQuantity":"12","differenceReason":"damaged"}]}`,
		`{"delivery":"80001234","shipmentId":"SHP25031407","deliveredAt":"2025-03-17T09:12:00-04:00","signedBy":"R. ROE"}`},
	{refsink.KindERP, "freight-invoices", "/erp/v1/freight-invoices",
		`{"invoiceNumber":"INV-531204","invoiceDate":"2025-03-20","supplierScac":"XMPL","currency":"USD","totalAmount":"1300.50","shipmentId":"SHP25031407","lines":[{"chargeCode":"400","amount":"1250.00"},{"chargeCode":"FUE","amount":"50.50"}]}`,
		`{"invoiceNumber":"INV-531204","invoiceDate":"2025-03-20","supplierScac":"XMPL","currency":"USD","totalAmount":"1250.00","shipmentId":"SHP25031407","lines":[{"chargeCode":"400","amount":"1250.00"}]}`},
	{refsink.KindTMS, "shipments", "/tms/v1/shipments",
		`{"shipmentId":"SHP25031407","mode":"TL","carrierScac":"XMPL","stops":[{"sequence":1,"type":"pickup","location":{"id":"MEM1","city":"MEMPHIS","country":"US"}},{"sequence":2,"type":"delivery","location":{"city":"ATLANTA","country":"US"},"appointmentAt":"2025-03-17T08:00:00-04:00"}]}`,
		`{"shipmentId":"SHP25031407","mode":"LTL","carrierScac":"XMPL","stops":[{"sequence":1,"type":"pickup","location":{"id":"MEM1","city":"MEMPHIS","country":"US"}},{"sequence":2,"type":"delivery","location":{"city":"ATLANTA","country":"US"}}]}`},
	{refsink.KindTMS, "tenders", "/tms/v1/tenders",
		`{"shipmentId":"SHP25031407","carrierScac":"XMPL","action":"offer","at":"2025-03-13T10:00:00Z","rate":{"amount":"1250.00","currency":"USD"}}`,
		`{"shipmentId":"SHP25031407","carrierScac":"XMPL","action":"cancel","at":"2025-03-13T10:00:00Z"}`},
	{refsink.KindTMS, "milestones", "/tms/v1/shipments/SHP25031407/milestones",
		`{"code":"departed_pickup","timestamp":"2025-03-14T15:48:00-05:00","stopSequence":1,"reasonCode":"NS","location":{"city":"MEMPHIS","region":"TN","country":"US"}}`,
		`{"code":"departed_pickup","timestamp":"2025-03-14T15:49:00-05:00","stopSequence":1}`},
}

// gm is a valid goods movement with a varying quantity.
func gm(i int) string {
	return `{"movementType":"311","material":"AF-1002","plant":"MEM1","quantity":"` + strconv.Itoa(i+1) + `","unit":"EA"}`
}

// keyOf makes a test name usable as an Idempotency-Key.
func keyOf(name string) string { return strings.ReplaceAll(name, " ", "_") }

func decodeJSON(res *http.Response, v any) error {
	return json.NewDecoder(res.Body).Decode(v)
}

// listen opens a loopback TCP listener.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

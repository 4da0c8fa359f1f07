package wmssim

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// TruthFormat names the ground-truth format in its header line.
const TruthFormat = "dray-wmssim-truth/1"

// Record is one line of the ground truth. Rec says which kind it is and
// which fields are set; see the package documentation for the format.
type Record struct {
	// Rec is header, fact, via, bad or end.
	Rec string `json:"rec"`
	// Seq numbers the lines of the file from 1, without gaps.
	Seq int64 `json:"seq"`

	// ID is the fact id ("F…") of fact and via lines, the bad input id
	// ("B…") of bad lines.
	ID string `json:"id,omitempty"`
	// Kind is what happened on the floor, e.g. "movement", "line_status".
	Kind string `json:"kind,omitempty"`
	// Type is the canonical event type the fact becomes.
	Type string `json:"type,omitempty"`
	// Subject is the canonical subject of that event.
	Subject string `json:"subject,omitempty"`
	// Key is the event's idempotency key (canonical.FactKey): what the
	// sinks' ledgers record. A Via may override it.
	Key string `json:"key,omitempty"`
	// Sinks are the sinks the fact must reach (empty: none).
	Sinks []string `json:"sinks,omitempty"`
	// Time is the event time (RFC 3339, UTC) as the sources state it: a
	// local wall time resolved in the site's zone.
	Time string `json:"time,omitempty"`
	// Ambiguous marks a local time in a fall-back hour, resolved to the
	// earlier instant.
	Ambiguous bool `json:"ambiguous,omitempty"`
	// Via lists where the fact was written (fact lines: the places
	// committed together with its first appearance; via lines: one more).
	Via []Via `json:"via,omitempty"`
	// Detail holds the business content, for humans and checks.
	Detail *Detail `json:"detail,omitempty"`

	// Category, Code and Scope describe a bad input: its category (see
	// BadConfig), the reject code a connector is expected to give, and
	// whether the row, the transaction set or the whole file is bad.
	Category string `json:"category,omitempty"`
	Code     string `json:"code,omitempty"`
	Scope    string `json:"scope,omitempty"`
	// Where locates a bad input (a table row and its outbox row, or a
	// file with line, set, segment and element).
	Where []Via `json:"where,omitempty"`
	// WouldBe are the events the bad input would give if it were wrongly
	// accepted; none of them may reach a sink.
	WouldBe []WouldBe `json:"wouldBe,omitempty"`

	// Header is set on the first line.
	Header *Header `json:"header,omitempty"`
	// End is set on the last line of a run that stopped cleanly.
	End *End `json:"end,omitempty"`
}

// Via is one place a fact (or a bad input) was written.
type Via struct {
	// Src is table (a WMS table row, timestamp or rowversion watermark),
	// outbox (a row of the outbox table), csv or x12 (a file).
	Src string `json:"src"`
	// Table and PK name a row; Version is its row_version. RecordKey
	// starts with the name of the sql connector's table entry that reads
	// the row ("<name>/<pk>"), which is not always the table's name (see
	// the package doc).
	Table   string `json:"table,omitempty"`
	PK      string `json:"pk,omitempty"`
	Version string `json:"version,omitempty"`
	// Mutable marks a row that later updates may supersede: a
	// watermark reader may only see the last version (see the doc).
	Mutable bool `json:"mutable,omitempty"`
	// Path is the file's final path, SHA256 its content hash; Line is the
	// 1-based line of a CSV row; Ref the X12 "ISA13=…;GS06=…;ST02=…".
	Path   string `json:"path,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Line   int    `json:"line,omitempty"`
	Ref    string `json:"ref,omitempty"`
	// Field, Segment, SegmentPos (1-based, ST = 1), Element and Offset
	// (byte in the file) locate a bad input more closely.
	Field      string `json:"field,omitempty"`
	Segment    string `json:"segment,omitempty"`
	SegmentPos int    `json:"segmentPos,omitempty"`
	Element    int    `json:"element,omitempty"`
	Offset     int    `json:"offset,omitempty"`
	// Source, RecordKey and RecordVersion are the expected canonical
	// identity (canonical.EventID(site, Source, RecordKey, RecordVersion)
	// is EventID). X12 sources follow x12map exactly; table, outbox and
	// CSV sources follow the conventions in the package doc.
	Source        string `json:"source,omitempty"`
	RecordKey     string `json:"recordKey,omitempty"`
	RecordVersion string `json:"recordVersion,omitempty"`
	EventID       string `json:"eventId,omitempty"`
	// Key overrides the fact's idempotency key for this source (a
	// retraction names the retracted event, whose id depends on the
	// source).
	Key string `json:"key,omitempty"`
	// Code is the reject code expected at this location of a bad input,
	// when it differs from the record's Code.
	Code string `json:"code,omitempty"`
}

// WouldBe is an event a bad input would make if it were accepted.
type WouldBe struct {
	Type    string `json:"type"`
	Subject string `json:"subject"`
	Key     string `json:"key"`
	EventID string `json:"eventId,omitempty"`
}

// Detail is the business content of a fact. Quantities are decimal
// strings in the unit the source used (Qty, UOM) and in the item's base
// unit (BaseQty, BaseUOM; X12 unit codes as the WMS writes them).
type Detail struct {
	Owner        string `json:"owner,omitempty"`
	SKU          string `json:"sku,omitempty"`
	GTIN         string `json:"gtin,omitempty"`
	Lot          string `json:"lot,omitempty"`
	Expiry       string `json:"expiry,omitempty"`
	Qty          string `json:"qty,omitempty"`
	UOM          string `json:"uom,omitempty"`
	BaseQty      string `json:"baseQty,omitempty"`
	BaseUOM      string `json:"baseUom,omitempty"`
	MovementID   string `json:"movementId,omitempty"`
	MovementType string `json:"movementType,omitempty"`
	ReasonCode   string `json:"reasonCode,omitempty"`
	Reverses     string `json:"reverses,omitempty"`
	From         string `json:"from,omitempty"`
	To           string `json:"to,omitempty"`
	SSCC         string `json:"sscc,omitempty"`
	Ref          string `json:"ref,omitempty"`
	OrderNo      string `json:"orderNo,omitempty"`
	LineNo       string `json:"lineNo,omitempty"`
	Lines        int    `json:"lines,omitempty"`
	Status       string `json:"status,omitempty"`
	ShipmentID   string `json:"shipmentId,omitempty"`
	Milestone    string `json:"milestone,omitempty"`
	StatusCode   string `json:"statusCode,omitempty"`
	StopSeq      int    `json:"stopSeq,omitempty"`
	SignedBy     string `json:"signedBy,omitempty"`
	ReceiptNo    string `json:"receiptNo,omitempty"`
	SnapshotID   string `json:"snapshotId,omitempty"`
	Positions    int    `json:"positions,omitempty"`
	Retracts     string `json:"retracts,omitempty"`
}

// Header is the first line: what produced the file.
type Header struct {
	Format       string              `json:"format"`
	Seed         uint64              `json:"seed"`
	Site         string              `json:"site"`
	TimeZone     string              `json:"timeZone"`
	Start        string              `json:"start"`     // simulated start (RFC 3339)
	WallStart    string              `json:"wallStart"` // technical clock start (RFC 3339)
	Acceleration float64             `json:"acceleration"`
	Store        string              `json:"store,omitempty"` // sqlite or postgres
	Drops        DropConfig          `json:"drops"`
	Sources      IdentityConfig      `json:"sources"`
	Routes       map[string][]string `json:"routes"`
	Partners     []Partner           `json:"partners"`
}

// End is the last line of a run that stopped cleanly.
type End struct {
	Reason string `json:"reason"` // facts, duration or signal
	Facts  int64  `json:"facts"`
	Bad    int64  `json:"bad"`
	Files  int64  `json:"files"`
	Rows   int64  `json:"rows"`
	// LateCommits counts transactions that committed after later ones.
	LateCommits int64            `json:"lateCommits"`
	Kinds       map[string]int64 `json:"kinds"`
	Sim         string           `json:"sim"` // simulated end (RFC 3339)
}

// truthWriter appends records to the ground-truth file. Write buffers;
// Sync writes the buffer and fsyncs, and is called before the store
// commits and files are renamed (write-ahead).
type truthWriter struct {
	f   *os.File
	bw  *bufio.Writer
	enc *json.Encoder
	seq int64
}

func createTruth(path string) (*truthWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644) //nolint:gosec // the operator names the file
	if err != nil {
		return nil, fmt.Errorf("create truth: %w", err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &truthWriter{f: f, bw: bw, enc: enc}, nil
}

func (t *truthWriter) write(r *Record) error {
	t.seq++
	r.Seq = t.seq
	if err := t.enc.Encode(r); err != nil {
		return fmt.Errorf("write truth: %w", err)
	}
	return nil
}

func (t *truthWriter) sync() error {
	if err := t.bw.Flush(); err != nil {
		return fmt.Errorf("write truth: %w", err)
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("sync truth: %w", err)
	}
	return nil
}

func (t *truthWriter) close() error {
	err := t.sync()
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Truth is a ground-truth file read back.
type Truth struct {
	Header *Header
	// Facts in order of first appearance; each has every Via, those of
	// later via lines included.
	Facts []*Record
	Bad   []*Record
	// End is nil when the run did not stop cleanly.
	End *End

	byID map[string]*Record

	rows map[string]rowFate // table/pk → last version, deleted; built lazily
}

type rowFate struct {
	last    int64
	deleted bool
}

// Fact returns the fact with the id, or nil.
func (t *Truth) Fact(id string) *Record { return t.byID[id] }

// Superseded reports whether a table via is a row version that a later
// write replaced: a later version of the same row, or the row's deletion
// (a line_deleted fact retracts the event of its last version). A
// watermark reader sees only what a row holds when it reads it, so a
// superseded version may never be read; harnesses count it as optional.
// Other vias (outbox rows, files, insert-only tables) are never superseded.
func (t *Truth) Superseded(v Via) bool {
	if v.Src != "table" {
		return false
	}
	if t.rows == nil {
		t.rows = map[string]rowFate{}
		byEvent := map[string]string{}
		for _, f := range t.Facts {
			for _, w := range f.Via {
				if w.Src != "table" {
					continue
				}
				k := w.Table + "/" + w.PK
				byEvent[w.EventID] = k
				if n := parseVersion(w.Version); n > t.rows[k].last {
					t.rows[k] = rowFate{last: n}
				}
			}
		}
		for _, f := range t.Facts {
			if f.Kind == "line_deleted" && f.Detail != nil {
				if k, ok := byEvent[f.Detail.Retracts]; ok {
					r := t.rows[k]
					r.deleted = true
					t.rows[k] = r
				}
			}
		}
	}
	r := t.rows[v.Table+"/"+v.PK]
	return r.deleted || parseVersion(v.Version) < r.last
}

func parseVersion(s string) int64 {
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

// ReadTruth reads a ground-truth file. A torn last line (the simulator
// killed mid-write) is ignored; any other damage is an error.
func ReadTruth(path string) (*Truth, error) {
	f, err := os.Open(path) //nolint:gosec // the caller names the file
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return DecodeTruth(f)
}

// DecodeTruth reads ground truth from r (see ReadTruth).
func DecodeTruth(r io.Reader) (*Truth, error) {
	t := &Truth{byID: map[string]*Record{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var want int64 = 1
	var pendingErr error
	for sc.Scan() {
		if pendingErr != nil {
			return nil, pendingErr
		}
		var rec Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			pendingErr = fmt.Errorf("truth line %d: %w", want, err)
			continue
		}
		if rec.Seq != want {
			return nil, fmt.Errorf("truth line %d has seq %d", want, rec.Seq)
		}
		want++
		switch rec.Rec {
		case "header":
			t.Header = rec.Header
		case "fact":
			r := rec
			t.Facts = append(t.Facts, &r)
			t.byID[r.ID] = &r
		case "via":
			f := t.byID[rec.ID]
			if f == nil {
				return nil, fmt.Errorf("truth line %d: via for unknown fact %s", rec.Seq, rec.ID)
			}
			f.Via = append(f.Via, rec.Via...)
		case "bad":
			r := rec
			t.Bad = append(t.Bad, &r)
		case "end":
			t.End = rec.End
		default:
			return nil, fmt.Errorf("truth line %d: unknown rec %q", rec.Seq, rec.Rec)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if t.Header == nil {
		return nil, errors.New("truth: no header line")
	}
	return t, nil
}

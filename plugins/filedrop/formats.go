package filedrop

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/csvfile"
	"github.com/draylink/dray/plugins/filedrop/journal"
	"github.com/draylink/dray/plugins/filedrop/movement"
	"github.com/draylink/dray/plugins/filedrop/x12"
	"github.com/draylink/dray/plugins/filedrop/xmlfile"
	"github.com/draylink/dray/plugins/sdk"
)

// Whole-file codes of this package (the readers have their own: csv_*,
// xml_*, x12_*).
const (
	CodeUnknownFormat   = "unknown_format"       // no format for the file's extension
	CodeNoMapping       = "format_not_mapped"    // a CSV or XML file in an inbox without a mapping
	CodeTooLarge        = "file_too_large"       // over max_file_bytes (X12, XML)
	CodeCSVEmpty        = "csv_empty"            // no header
	CodeCSVBadHeader    = "csv_bad_header"       // the header line is malformed
	CodeCSVMissing      = "csv_missing_header"   // a required field has no column
	CodeCSVDuplicate    = "csv_duplicate_header" // two columns of the same name
	CodeJSONLineTooLong = "json_line_too_long"   // a JSON line over 1 MiB
	CodeJSONInvalid     = "json_invalid_event"   // a JSON event canonical.Validate refuses
	CodeJSONForeignSite = "json_foreign_site"    // a JSON event of another site
	maxJSONLine         = 1 << 20
	maxPayload          = 64 << 10
)

// item is what one record gives: an event or a reject, and the position
// after it.
type item struct {
	ev  *canonical.Event
	rej *sdk.Reject
	pos filePos
}

// problem is a file that cannot be read at all: it is quarantined whole.
type problem struct {
	code, msg, loc string
}

// opened is a file ready to read.
type opened struct {
	// each calls fn with every item after start, in order.
	each func(start filePos, fn func(item) error) error
	// X12: the interchanges the file delivers for the first time, and how
	// many 997s they get.
	x12  []journal.Interchange
	acks int
	// duplicate: every interchange of the file was delivered before.
	duplicate bool
}

// detect picks a format by extension.
func detect(name string) string {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv", ".tsv":
		return formatCSV
	case ".edi", ".x12", ".edx", ".dat":
		return formatX12
	case ".xml":
		return formatXML
	case ".jsonl", ".ndjson", ".json":
		return formatJSONL
	}
	return ""
}

// open prepares a file of ib for reading. replay is set when the file is
// re-emitted from the archive (no duplicate checks).
func (r *run) open(ib *inbox, path, name string, replay bool) (*opened, *problem, error) {
	format := ib.format
	if format == formatAuto {
		format = detect(name)
	}
	switch format {
	case formatCSV, formatXML:
		if ib.mapper == nil {
			return nil, &problem{CodeNoMapping, fmt.Sprintf("inbox %s has no mapping for %s files", ib.name, format), name}, nil
		}
		if format == formatCSV {
			return r.openCSV(ib, path, name)
		}
		return r.openXML(ib, path, name)
	case formatX12:
		return r.openX12(ib, path, name, replay)
	case formatJSONL:
		return r.openJSONL(path, name), nil, nil
	}
	return nil, &problem{CodeUnknownFormat, fmt.Sprintf("no format for %q in inbox %s (csv, x12, xml or jsonl by extension, or set format)", name, ib.name), name}, nil
}

func loc(name string, line, col int) string {
	s := name + ":" + strconv.Itoa(line)
	if col > 0 {
		s += ":" + strconv.Itoa(col)
	}
	return s
}

func capPayload(b []byte) []byte {
	if len(b) > maxPayload {
		return b[:maxPayload]
	}
	return b
}

// ---- CSV

func (r *run) openCSV(ib *inbox, path, name string) (*opened, *problem, error) {
	f, err := os.Open(path) //nolint:gosec // a file of the drop
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	rd := csvfile.NewReader(f, 0, 0, ib.csv)
	head, err := rd.Read()
	var ce *csvfile.Error
	switch {
	case errors.Is(err, io.EOF):
		return nil, &problem{CodeCSVEmpty, "the file has no header line", loc(name, 1, 1)}, nil
	case errors.As(err, &ce):
		return nil, &problem{CodeCSVBadHeader, "the header line is malformed: " + ce.Msg + " (" + ce.Code + ")", loc(name, ce.Line, ce.Col)}, nil
	case err != nil:
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	var idx [movement.NumFields]int
	for i := range idx {
		idx[i] = -1
	}
	cols := map[string]int{}
	for i, h := range head.Fields {
		n := normHeader(h)
		if n == "" {
			continue
		}
		if j, dup := cols[n]; dup {
			return nil, &problem{CodeCSVDuplicate, fmt.Sprintf("column %q is both column %d and column %d", h, j+1, i+1),
				loc(name, head.Line, head.Cols[i])}, nil
		}
		cols[n] = i
	}
	m := ib.mapper[formatCSV]
	var missing []string
	for f := movement.Field(0); f < movement.NumFields; f++ {
		for _, alias := range ib.cols[f] {
			if i, ok := cols[alias]; ok {
				idx[f] = i
				break
			}
		}
		if idx[f] < 0 && slices.Contains(movement.Required, f) && !m.Derived(f) {
			missing = append(missing, fmt.Sprintf("%s (%s)", f, strings.Join(ib.cols[f], " or ")))
		}
	}
	if len(missing) > 0 {
		return nil, &problem{CodeCSVMissing, "no column for " + strings.Join(missing, ", "), loc(name, head.Line, 1)}, nil
	}
	headerEnd, headerLine, nfields := rd.Offset(), rd.Line(), len(head.Fields)
	o := ib.csv
	o.FieldsPerRecord = nfields

	each := func(start filePos, fn func(item) error) error {
		f, err := os.Open(path) //nolint:gosec // a file of the drop
		if err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
		defer f.Close()
		if start.Off < headerEnd {
			start = filePos{Off: headerEnd, Line: headerLine}
		}
		if _, err := f.Seek(start.Off, io.SeekStart); err != nil {
			return fmt.Errorf("seek %s: %w", path, err)
		}
		rd := csvfile.NewReader(f, start.Off, start.Line, o)
		n := start.Rec
		for {
			rec, err := rd.Read()
			if errors.Is(err, io.EOF) {
				return nil
			}
			var it item
			var ce *csvfile.Error
			switch {
			case errors.As(err, &ce):
				it.rej = &sdk.Reject{Code: ce.Code, Reason: ce.Msg, Ref: loc(name, ce.Line, ce.Col), Payload: capPayload(ce.Raw)}
			case err != nil:
				return fmt.Errorf("read %s: %w", path, err)
			default:
				it = r.csvRow(m, name, &idx, rec)
			}
			n++
			it.pos = filePos{Off: rd.Offset(), Line: rd.Line(), Rec: n}
			if err := fn(it); err != nil {
				return err
			}
		}
	}
	return &opened{each: each}, nil, nil
}

// csvRow maps one CSV record.
func (r *run) csvRow(m *movement.Mapper, name string, idx *[movement.NumFields]int, rec *csvfile.Record) item {
	var row movement.Row
	for f, i := range idx {
		if i >= 0 {
			row.Values[f] = strings.TrimSpace(rec.Fields[i])
		}
	}
	row.Ref = loc(name, rec.Line, 0)
	row.Raw = rec.Raw
	res := m.Map(&row)
	where := func(f movement.Field) string {
		if f < 0 || idx[f] < 0 {
			return loc(name, rec.Line, 0)
		}
		i := idx[f]
		return loc(name, rec.Line+rec.FieldLines[i], rec.Cols[i])
	}
	if res.Warning != nil {
		r.log.Warn("record read with a warning", "code", res.Warning.Code, "ref", where(res.Warning.Field), "reason", res.Warning.Reason)
	}
	if res.Reject != nil {
		return item{rej: &sdk.Reject{Code: res.Reject.Code, Reason: res.Reject.Reason, Ref: where(res.Reject.Field), Payload: capPayload(rec.Raw)}}
	}
	return item{ev: res.Event}
}

// ---- XML

func (r *run) openXML(ib *inbox, path, name string) (*opened, *problem, error) {
	f, err := os.Open(path) //nolint:gosec // a file of the drop
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > r.cfg.cfg.MaxFileBytes {
		return nil, &problem{CodeTooLarge, fmt.Sprintf("%d bytes, over max_file_bytes %d", fi.Size(), r.cfg.cfg.MaxFileBytes), name}, nil
	}
	if _, err := xmlfile.Check(bufio.NewReaderSize(f, 64<<10), ib.xml); err != nil {
		var xe *xmlfile.Error
		if errors.As(err, &xe) {
			return nil, &problem{xe.Code, xe.Msg, loc(name, xe.Line, xe.Col)}, nil
		}
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	m := ib.mapper[formatXML]
	each := func(start filePos, fn func(item) error) error {
		f, err := os.Open(path) //nolint:gosec // a file of the drop
		if err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
		defer f.Close()
		return xmlfile.Read(bufio.NewReaderSize(f, 64<<10), ib.xml, start.Rec, func(rec xmlfile.Record) error {
			it := r.xmlRecord(ib, m, name, rec)
			it.pos = filePos{Rec: rec.Index + 1}
			return fn(it)
		})
	}
	return &opened{each: each}, nil, nil
}

func (r *run) xmlRecord(ib *inbox, m *movement.Mapper, name string, rec xmlfile.Record) item {
	raw, _ := json.Marshal(rec.Fields) // map keys sorted: stable, for the record version
	var row movement.Row
	where := func(f movement.Field) string {
		if p, ok := ib.paths[f]; ok && f >= 0 {
			if pos, ok := rec.Positions[p]; ok {
				return loc(name, pos[0], pos[1])
			}
		}
		return loc(name, rec.Line, rec.Col)
	}
	for f, p := range ib.paths {
		row.Values[f] = rec.Fields[p]
		if slices.Contains(rec.Repeated, p) {
			return item{rej: &sdk.Reject{Code: movement.CodeRepeated, Reason: fmt.Sprintf("%s (%s) is given more than once", f, p),
				Ref: where(f), Payload: raw}}
		}
	}
	row.Ref = loc(name, rec.Line, 0)
	row.Raw = raw
	res := m.Map(&row)
	if res.Warning != nil {
		r.log.Warn("record read with a warning", "code", res.Warning.Code, "ref", where(res.Warning.Field), "reason", res.Warning.Reason)
	}
	if res.Reject != nil {
		return item{rej: &sdk.Reject{Code: res.Reject.Code, Reason: res.Reject.Reason, Ref: where(res.Reject.Field), Payload: raw}}
	}
	return item{ev: res.Event}
}

// ---- X12

func (r *run) openX12(ib *inbox, path, name string, replay bool) (*opened, *problem, error) {
	if r.cfg.x12 == nil {
		return nil, &problem{CodeNoMapping, "the configuration has no x12 block", name}, nil
	}
	data, prob, err := r.readCapped(path, name)
	if prob != nil || err != nil {
		return nil, prob, err
	}
	ics, err := x12.ParseAll(data)
	if err != nil {
		var xe *x12.Error
		if !errors.As(err, &xe) {
			return nil, nil, fmt.Errorf("parse %s: %w", path, err)
		}
		line, col := x12.Position(data, xe.Offset)
		return nil, &problem{xe.Code(), xe.Error(), loc(name, line, col)}, nil
	}
	var fresh []*x12.Interchange
	op := &opened{}
	inFile := map[string]string{}
	for _, ic := range ics {
		key, h := ic.Key(), interchangeHash(ic)
		prev, seen := inFile[key]
		if !seen && !replay {
			prev, seen = r.interchangeSeen(key)
		}
		switch {
		case seen && prev == h:
			r.log.Info("interchange delivered again: not emitted", "file", name, "interchange", key)
			continue
		case seen:
			line, col := x12.Position(data, ic.Offset)
			return nil, &problem{x12.CodeDuplicateInterchange,
				fmt.Sprintf("interchange %s (ISA13 %s) was received before with other content: a reused control number", key, ic.ControlNumber),
				loc(name, line, col)}, nil
		}
		inFile[key] = h
		fresh = append(fresh, ic)
		op.x12 = append(op.x12, journal.Interchange{Key: key, SHA256: h})
	}
	if len(fresh) == 0 {
		op.duplicate = true
		return op, nil, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	r.cfg.ackTime.set(fi.ModTime().In(r.cfg.zone).Truncate(time.Second))
	var items []item
	for _, ic := range fresh {
		res, err := r.cfg.x12.Map(ic)
		if err != nil {
			return nil, nil, fmt.Errorf("map %s: %w", path, err)
		}
		for _, w := range res.Warnings {
			r.log.Warn("X12 set read with a warning", "file", name, "warning", w.String())
		}
		for _, e := range res.Events {
			items = append(items, item{ev: e})
		}
		for _, rj := range res.Rejects {
			line, col := x12.Position(data, rj.Offset)
			ref := loc(name, line, col) + " " + rj.Ref
			if rj.SegmentID != "" {
				ref += fmt.Sprintf(" %s", rj.SegmentID)
				if rj.Element > 0 {
					ref += fmt.Sprintf("-%02d", rj.Element)
				}
				ref += fmt.Sprintf(" (segment %d)", rj.Segment)
			}
			items = append(items, item{rej: &sdk.Reject{Code: rj.Code, Reason: rj.Reason, Ref: ref, Payload: capPayload([]byte(rj.Payload))}})
		}
		if res.Ack != nil {
			items = append(items, item{ev: res.Ack})
			op.acks++
		}
	}
	op.each = func(start filePos, fn func(item) error) error {
		for i := start.Rec; i < len(items); i++ {
			it := items[i]
			it.pos = filePos{Rec: i + 1}
			if err := fn(it); err != nil {
				return err
			}
		}
		return nil
	}
	return op, nil, nil
}

// interchangeHash hashes an interchange's segments and elements, not its
// bytes: the same interchange with other line breaks or delimiters has the
// same hash.
func interchangeHash(ic *x12.Interchange) string {
	h := sha256.New()
	seg := func(s x12.Segment) {
		for i, e := range s.Elements {
			if i > 0 {
				h.Write([]byte{0x1f})
			}
			h.Write([]byte(e))
		}
		h.Write([]byte{0x1e})
	}
	seg(ic.Header)
	for _, g := range ic.Groups {
		seg(g.Header)
		for _, s := range g.Sets {
			for _, sg := range s.Segments {
				seg(sg)
			}
		}
		seg(g.Trailer)
	}
	seg(ic.Trailer)
	return hex.EncodeToString(h.Sum(nil))
}

// readCapped reads a whole-file format, refusing one over max_file_bytes.
func (r *run) readCapped(path, name string) ([]byte, *problem, error) {
	f, err := os.Open(path) //nolint:gosec // a file of the drop
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	limit := r.cfg.cfg.MaxFileBytes
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, &problem{CodeTooLarge, fmt.Sprintf("over max_file_bytes %d", limit), name}, nil
	}
	return data, nil, nil
}

// ---- JSON lines

func (r *run) openJSONL(path, name string) *opened {
	each := func(start filePos, fn func(item) error) error {
		f, err := os.Open(path) //nolint:gosec // a file of the drop
		if err != nil {
			return fmt.Errorf("open %s: %w", path, err)
		}
		defer f.Close()
		if _, err := f.Seek(start.Off, io.SeekStart); err != nil {
			return fmt.Errorf("seek %s: %w", path, err)
		}
		br := bufio.NewReaderSize(f, 64<<10)
		pos := start
		for {
			line, n, err := readLine(br)
			if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
			if n == 0 {
				return nil
			}
			pos.Off += int64(n)
			pos.Line++
			if pos.Line == 1 {
				line = bytes.TrimPrefix(line, []byte("\uFEFF"))
			}
			line = bytes.TrimRight(line, "\r\n")
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			it := r.jsonLine(name, pos.Line, line, n)
			pos.Rec++
			it.pos = pos
			if err := fn(it); err != nil {
				return err
			}
		}
	}
	return &opened{each: each}
}

func (r *run) jsonLine(name string, lineNo int, line []byte, n int) item {
	reject := func(code string, col int, format string, args ...any) item {
		return item{rej: &sdk.Reject{Code: code, Reason: fmt.Sprintf(format, args...), Ref: loc(name, lineNo, col), Payload: capPayload(line)}}
	}
	if n > maxJSONLine {
		return reject(CodeJSONLineTooLong, 0, "the line of %d bytes is over the %d-byte limit", n, maxJSONLine)
	}
	if bytes.TrimLeft(line, " \t")[0] != '{' {
		return reject("json_syntax_error", 1, "a line must be one JSON object (a canonical CloudEvent), starting with '{'")
	}
	ev, err := canonical.UnmarshalJSON(line)
	if err != nil {
		var de *canonical.DecodeError
		if errors.As(err, &de) {
			return reject("json_"+de.Code, de.Offset+1, "%s", de.Error())
		}
		return reject("json_syntax_error", 1, "%v", err)
	}
	if err := canonical.Validate(ev); err != nil {
		var ve *canonical.ValidationError
		msg := err.Error()
		if errors.As(err, &ve) {
			var parts []string
			for _, p := range ve.Problems {
				parts = append(parts, p.String())
			}
			msg = strings.Join(parts, "; ")
		}
		return reject(CodeJSONInvalid, 0, "%s", msg)
	}
	if ev.GetSiteId() != r.cfg.cfg.SiteID {
		return reject(CodeJSONForeignSite, 0, "the event belongs to site %q, not %q", ev.GetSiteId(), r.cfg.cfg.SiteID)
	}
	return item{ev: ev}
}

// readLine reads one line, keeping at most maxJSONLine+1 bytes of it, and
// returns its full length (n == 0 at the end of the file).
func readLine(r *bufio.Reader) (line []byte, n int, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		n += len(chunk)
		if len(line) <= maxJSONLine {
			line = append(line, chunk[:min(len(chunk), maxJSONLine+1-len(line))]...)
		}
		switch {
		case err == nil, errors.Is(err, io.EOF):
			return line, n, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return nil, n, err
		}
	}
}

// Package example is a small, complete dray connector meant to be copied: it
// reads inventory counts from a directory of JSON-lines files (one count per
// line) and emits logistics.inventory.counted events. It uses nothing but the
// SDK and canonical, like a third-party connector would.
//
// Files are read in name order and are append-only: a writer adds whole lines
// and starts a new file (with a later name, e.g. a timestamp) instead of
// rewriting an old one. A line is read once it ends with a newline, so a file
// still being written is safe to pick up. The cursor is the file name, the
// byte offset and the line number after the last line emitted.
//
// One line:
//
//	{"count_id":"CC-0314-7","owner":"ACME","sku":"AF-1002","lot":"L2502C",
//	 "location":"R-40-02-C","uom":"XCS","counted":13,"expected":14,
//	 "counted_at":"2025-03-14T16:05:00-05:00","reason":"CC_ABC"}
//
// count_id, sku, location, uom, counted and counted_at are required; counts
// are decimals (numbers or strings), times carry their UTC offset. A line
// that is not valid JSON, has an unknown or duplicate key, a wrong type, a
// missing field or a value the canonical model refuses becomes a Reject with
// a code (see the Reject* constants) and its file:line:column.
package example

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/sdk"
)

// Name and Version identify the connector.
const (
	Name    = "example-counts"
	Version = "1.0.0"
)

// Config is the connector's block in the agent configuration.
type Config struct {
	// SiteID is the site the counts belong to, e.g. "MEM1". Required.
	SiteID string `json:"site_id"`
	// Source is the URI of this source; default "urn:dray:<site_id>:counts".
	Source string `json:"source"`
	// Dir is the directory the count files are dropped in. Required.
	Dir string `json:"dir"`
	// Pattern selects the files (filepath.Match); default "*.jsonl".
	Pattern string `json:"pattern"`
	// PollInterval is how often the directory is checked when there is
	// nothing new; default 2s.
	PollInterval time.Duration `json:"poll_interval"`
	// BatchSize is the most lines per batch; default 500.
	BatchSize int `json:"batch_size"`
}

// Connector reads count files. Create it with New.
type Connector struct {
	cfg Config
	log *slog.Logger
}

// New returns an unconfigured connector, ready for sdk.Serve.
func New() *Connector { return &Connector{log: sdk.Logger().With("connector", Name)} }

var _ sdk.Connector = (*Connector)(nil)

// Info describes the connector.
func (c *Connector) Info() sdk.Info {
	return sdk.Info{
		Name:        Name,
		Version:     Version,
		APIVersions: []int{sdk.APIVersion},
		EventTypes:  []string{"logistics.inventory.counted"},
	}
}

// Configure decodes and checks the configuration, reporting every problem.
func (c *Connector) Configure(_ context.Context, raw []byte) error {
	// Decode into a fresh value: a refused configuration leaves no trace.
	cfg := Config{Pattern: "*.jsonl", PollInterval: 2 * time.Second, BatchSize: 500}
	problems := sdk.DecodeConfig(raw, &cfg)
	bad := func(path, msg string) { problems = append(problems, sdk.FieldError{Path: path, Msg: msg}) }
	if !canonical.ValidSiteID(cfg.SiteID) {
		bad("site_id", "required: 1 to 32 letters, digits, '_', '.' or '-'")
	}
	if cfg.Source == "" {
		cfg.Source = "urn:dray:" + cfg.SiteID + ":counts"
	}
	if cfg.Dir == "" {
		bad("dir", "required")
	} else if fi, err := os.Stat(cfg.Dir); err != nil || !fi.IsDir() {
		bad("dir", fmt.Sprintf("%q is not a readable directory", cfg.Dir))
	}
	if _, err := filepath.Match(cfg.Pattern, ""); err != nil || cfg.Pattern == "" {
		bad("pattern", fmt.Sprintf("%q is not a valid file pattern", cfg.Pattern))
	}
	if cfg.PollInterval < 100*time.Millisecond || cfg.PollInterval > time.Hour {
		bad("poll_interval", "must be between 100ms and 1h")
	}
	if cfg.BatchSize < 1 || cfg.BatchSize > 10000 {
		bad("batch_size", "must be between 1 and 10000")
	}
	if len(problems) > 0 {
		return &sdk.ConfigError{Fields: problems}
	}
	c.cfg = cfg
	return nil
}

// position is the cursor: everything before Offset in File, and every file
// whose name sorts before File, has been emitted.
type position struct {
	File   string `json:"file"`
	Offset int64  `json:"offset"`
	Line   int    `json:"line"`
}

// Read emits the counts after cursor, then polls for more until ctx ends.
func (c *Connector) Read(ctx context.Context, cursor []byte, out sdk.Emitter) error {
	var pos position
	if cursor != nil {
		if err := json.Unmarshal(cursor, &pos); err != nil {
			return fmt.Errorf("decode cursor %q: %w", cursor, err)
		}
	}
	for {
		emitted, err := c.scan(ctx, &pos, out)
		if err != nil {
			return err
		}
		if emitted {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.cfg.PollInterval):
		}
	}
}

// scan reads every complete line after pos, emitting in batches, and reports
// whether it emitted anything.
func (c *Connector) scan(ctx context.Context, pos *position, out sdk.Emitter) (bool, error) {
	files, err := c.files(pos.File)
	if err != nil {
		return false, err
	}
	emitted := false
	for _, name := range files {
		if name != pos.File {
			*pos = position{File: name}
		}
		n, err := c.scanFile(ctx, pos, out)
		if err != nil {
			return emitted, err
		}
		emitted = emitted || n > 0
	}
	return emitted, nil
}

// files lists the matching files whose names sort at or after from.
func (c *Connector) files(from string) ([]string, error) {
	entries, err := os.ReadDir(c.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", c.cfg.Dir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() < from {
			continue
		}
		if ok, _ := filepath.Match(c.cfg.Pattern, e.Name()); ok {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

// maxLine is the longest line accepted; a longer one is rejected.
const maxLine = 1 << 20

// scanFile emits the complete lines of pos.File after pos, in batches, and
// returns how many batches it emitted. pos moves only when a batch is
// committed.
func (c *Connector) scanFile(ctx context.Context, pos *position, out sdk.Emitter) (int, error) {
	path := filepath.Join(c.cfg.Dir, pos.File)
	f, err := os.Open(path) //nolint:gosec // a file of the configured drop directory
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() < pos.Offset {
		c.log.Warn("file is shorter than the cursor: it was replaced; reading it again from the start",
			"file", pos.File, "size", fi.Size(), "cursor_offset", pos.Offset)
		*pos = position{File: pos.File}
	}
	if _, err := f.Seek(pos.Offset, io.SeekStart); err != nil {
		return 0, fmt.Errorf("seek %s: %w", path, err)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	next := *pos // position after the lines read so far
	var batch sdk.Batch
	batches := 0
	emit := func() error {
		cur, err := json.Marshal(next)
		if err != nil {
			return err
		}
		batch.Cursor = cur
		if err := out.Emit(ctx, batch); err != nil {
			return err
		}
		// Committed: the cursor may move (and a connector that archives
		// files would archive here, never before).
		*pos = next
		batch = sdk.Batch{}
		batches++
		return nil
	}
	for {
		line, n, complete, err := readLine(r)
		if err != nil {
			return batches, fmt.Errorf("read %s: %w", path, err)
		}
		if !complete {
			break // end of file, or a line still being written
		}
		next.Offset += int64(n)
		next.Line++
		if next.Line == 1 {
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(bytes.TrimSpace(line)) > 0 {
			ev, rej := c.parse(pos.File, next.Line, line, n)
			if rej != nil {
				batch.Rejects = append(batch.Rejects, *rej)
			} else {
				batch.Events = append(batch.Events, ev)
			}
		}
		if len(batch.Events)+len(batch.Rejects) >= c.cfg.BatchSize {
			if err := emit(); err != nil {
				return batches, err
			}
		}
	}
	if len(batch.Events)+len(batch.Rejects) > 0 {
		if err := emit(); err != nil {
			return batches, err
		}
	}
	return batches, nil
}

// readLine reads one line. It returns the line (truncated to maxLine+1
// bytes), its full length including the newline, and whether it ended with a
// newline. An incomplete tail at end of file is left for the next scan,
// which starts again from the cursor.
func readLine(r *bufio.Reader) (line []byte, n int, complete bool, err error) {
	for {
		chunk, err := r.ReadSlice('\n')
		n += len(chunk)
		if len(line) <= maxLine {
			line = append(line, chunk[:min(len(chunk), maxLine+1-len(line))]...)
		}
		switch {
		case err == nil:
			return line, n, true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return line, n, false, nil
		default:
			return nil, n, false, err
		}
	}
}

// recordVersion distinguishes versions of a count with the same id: a hash
// of the line, so the same line always gives the same event id.
func recordVersion(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:8])
}

var _ sdk.Retrier = (*Connector)(nil)

// Retry re-processes a quarantined line with the current configuration:
// r.Payload is the line (as rejected, or as an operator corrected it) and
// r.Ref its "file:line[:column]". A line gives the event, and the event id,
// a read of the same line in that file would give. A reject the SDK or the
// agent made of an invalid event (code invalid_event) carries the event as
// canonical JSON: that is decoded and validated again instead.
func (c *Connector) Retry(_ context.Context, r sdk.Reject) (sdk.RetryResult, error) {
	if r.Code == sdk.RejectInvalidEvent {
		ev, err := canonical.UnmarshalJSON(r.Payload)
		if err != nil {
			return sdk.RetryResult{Rejects: []sdk.Reject{{Code: sdk.RejectInvalidEvent, Reason: err.Error(), Ref: r.Ref, Payload: r.Payload}}}, nil
		}
		return sdk.RetryResult{Events: []*canonical.Event{ev}}, nil
	}
	file, lineNo := splitRef(r.Ref)
	line := bytes.TrimRight(r.Payload, "\r\n")
	if len(bytes.TrimSpace(line)) == 0 {
		return sdk.RetryResult{Rejects: []sdk.Reject{{Code: RejectMissingField, Reason: "the line is empty", Ref: r.Ref, Payload: r.Payload}}}, nil
	}
	ev, rej := c.parse(file, lineNo, line, len(line)+1)
	if rej != nil {
		return sdk.RetryResult{Rejects: []sdk.Reject{*rej}}, nil
	}
	return sdk.RetryResult{Events: []*canonical.Event{ev}}, nil
}

// splitRef splits "file:line[:column]" (the refs parse makes); a ref
// without a line number is the file, line 0.
func splitRef(ref string) (file string, line int) {
	parts := strings.Split(ref, ":")
	num := func(i int) (int, bool) {
		n, err := strconv.Atoi(parts[i])
		return n, err == nil && i > 0
	}
	last := len(parts) - 1
	if n, ok := num(last); ok {
		if m, ok := num(last - 1); ok && last > 1 {
			return strings.Join(parts[:last-1], ":"), m
		}
		return strings.Join(parts[:last], ":"), n
	}
	return ref, 0
}

// parse turns one line into an event, or a reject saying what is wrong.
func (c *Connector) parse(file string, lineNo int, line []byte, n int) (*canonical.Event, *sdk.Reject) {
	ref := fmt.Sprintf("%s:%d", file, lineNo)
	reject := func(code string, col int, format string, args ...any) *sdk.Reject {
		r := &sdk.Reject{Code: code, Reason: fmt.Sprintf(format, args...), Ref: ref, Payload: line}
		if col > 0 {
			r.Ref = fmt.Sprintf("%s:%d", ref, col)
		}
		if n > maxLine {
			r.Payload = line[:1024]
		}
		return r
	}
	if n > maxLine {
		return nil, reject(RejectLineTooLong, 0, "line of %d bytes is over the %d-byte limit", n, maxLine)
	}
	cl, err := decodeLine(line)
	if err != nil {
		var le *lineError
		if errors.As(err, &le) {
			return nil, reject(le.code, le.col, "%s", le.msg)
		}
		return nil, reject(RejectJSONSyntax, 0, "%v", err)
	}
	occurred, err := time.Parse(time.RFC3339Nano, cl.CountedAt)
	if err != nil {
		return nil, reject(RejectBadTime, 0, "counted_at %q is not an RFC 3339 time with a UTC offset", cl.CountedAt)
	}
	data := &canonical.InventoryCounted{
		SourceKey:  cl.CountID,
		Location:   &canonical.Location{SiteId: c.cfg.SiteID, Code: cl.Location},
		Item:       &canonical.ItemRef{OwnerId: cl.Owner, Sku: cl.SKU, Lot: cl.Lot},
		Counted:    canonical.Qty(cl.Counted, cl.UOM),
		CountId:    cl.CountID,
		ReasonCode: cl.Reason,
	}
	if cl.Expected != "" {
		data.Expected = canonical.Qty(cl.Expected, cl.UOM)
	}
	ev, err := canonical.NewEvent(
		canonical.Origin{SiteID: c.cfg.SiteID, Source: c.cfg.Source, SourceSystem: "file.jsonl.counts"},
		canonical.Record{Key: cl.CountID, Version: recordVersion(line), Ref: ref},
		occurred, data)
	if err != nil {
		return nil, reject(RejectInvalidCount, 0, "%v", err)
	}
	return ev, nil
}

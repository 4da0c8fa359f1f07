package x12map

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
)

// Reject codes of this package. Others come from the packages that found
// the problem: x12 (x12_se_count …), units (unit_unknown), gs1
// (gs1_check_digit …), localtime (time_nonexistent, time_invalid) and
// canonical validation (required, total_mismatch …).
const (
	CodeUnsupportedSet     = "x12map_unsupported_set"     // no mapping for this ST01
	CodeMissing            = "x12map_missing"             // a segment or element the mapping needs is absent
	CodeUnknownCode        = "x12map_unknown_code"        // a status, qualifier, charge or time code not in the tables
	CodeUnsupportedPurpose = "x12map_unsupported_purpose" // a cancel/change/replace purpose code dray does not map
	CodeQuantityMismatch   = "x12map_quantity_mismatch"   // ordered − shipped ≠ the stated difference, or a status that contradicts them
	CodeTotalMismatch      = "x12map_total_mismatch"      // a hash or amount total disagrees with the lines
	CodeOwnerUnknown       = "x12map_owner_unknown"       // no configured partner gives the owner id
	CodeZoneUnknown        = "x12map_zone_unknown"        // a local time at a place the zone tables do not know
	CodeBadHierarchy       = "x12map_bad_hierarchy"       // an 856 HL names a parent that does not precede it
	CodeInvalidNumber      = "invalid_decimal"            // a quantity or amount that is not an X12 number
	CodeTimeAmbiguous      = "time_ambiguous"             // warning: a local time in a fall-back hour, resolved to the earlier instant
)

// Result is what one interchange maps to.
type Result struct {
	// Events are the canonical events, in file order.
	Events []*canonical.Event
	// Rejects are the sets (or parts of sets) that produced no events. A
	// set is mapped whole or not at all: one bad line rejects its set, and
	// every problem found in it is listed. Rejects go to quarantine.
	Rejects []Reject
	// Warnings are problems that did not stop the mapping, e.g. a local
	// time in a fall-back hour (code time_ambiguous).
	Warnings []Reject
	// Ack reports the 997 the site sends for the interchange (nil when
	// Config.SkipAck is set or the interchange holds only 997s). Write the
	// bytes with x12.Acknowledge(ic, Supported).Encode997.
	Ack *canonical.Event
}

// Reject is one problem with one transaction set, located.
type Reject struct {
	// Code is stable and machine-readable, e.g. "unit_unknown".
	Code string
	// Reason explains the problem to a human.
	Reason string
	// Ref locates the set: "ISA13=…;GS06=…;ST02=…".
	Ref string
	// SetID is ST01, e.g. "945".
	SetID string
	// SegmentID, Segment (1-based position in the set, ST = 1), Element
	// (1-based) and Offset (byte offset of the segment in the file) locate
	// the problem; zero when it is not tied to one segment.
	SegmentID string
	Segment   int
	Element   int
	Offset    int
	// Payload is the set as received, ST through SE.
	Payload string
}

func (r Reject) String() string {
	loc := r.Ref
	if r.SegmentID != "" {
		loc += fmt.Sprintf(" %s", r.SegmentID)
		if r.Element > 0 {
			loc += fmt.Sprintf("-%02d", r.Element)
		}
		loc += fmt.Sprintf(" (segment %d, byte %d)", r.Segment, r.Offset)
	}
	return loc + ": " + r.Reason + " (" + r.Code + ")"
}

// Supported reports whether Map maps a transaction set; pass it to
// x12.Acknowledge so the 997 refuses the others with AK5 code 1.
func Supported(setID string) bool {
	_, ok := mappers[setID]
	return ok
}

// mappers holds the mapping of each transaction set, one file each.
var mappers = map[string]func(*setCtx){
	"940": map940,
	"943": map943,
	"944": map944,
	"945": map945,
	"846": map846,
	"856": map856,
	"204": map204,
	"214": map214,
	"210": map210,
}

// Map maps one parsed interchange with cfg. It returns an error only for
// an invalid configuration or a nil interchange; everything wrong with the
// data is in Result.Rejects. A connector that maps many files should build
// a Mapper once with NewMapper.
func Map(cfg Config, ic *x12.Interchange) (Result, error) {
	m, err := NewMapper(cfg)
	if err != nil {
		return Result{}, err
	}
	return m.Map(ic)
}

// Map maps one parsed interchange; see the package Map.
func (m *Mapper) Map(ic *x12.Interchange) (Result, error) {
	if ic == nil {
		return Result{}, errors.New("x12map: nil interchange")
	}
	var res Result
	for g, s := range ic.Sets() {
		c := &setCtx{m: m, ic: ic, g: g, s: s, ref: ic.Ref(g, s)}
		c.origin = canonical.Origin{SiteID: m.cfg.SiteID, Source: m.source(ic), SourceSystem: "edi.x12." + s.ID}
		switch fn := mappers[s.ID]; {
		case !s.OK():
			for _, e := range s.Errors {
				c.rejects = append(c.rejects, c.reject(e.Code(), e.Reason, x12.Segment{ID: e.SegmentID, Pos: e.Segment, Offset: e.Offset}, e.Element))
			}
		case fn == nil:
			c.fail(CodeUnsupportedSet, s.Segments[0], 1, "transaction set %s is not mapped (dray maps 940, 943, 944, 945, 846, 856, 204, 214 and 210)", s.ID)
		default:
			fn(c)
		}
		if len(c.rejects) > 0 {
			res.Rejects = append(res.Rejects, c.rejects...)
		} else {
			res.Events = append(res.Events, c.events...)
		}
		res.Warnings = append(res.Warnings, c.warnings...)
	}
	if !m.cfg.SkipAck {
		ack, rej := m.ackEvent(ic)
		res.Ack = ack
		res.Rejects = append(res.Rejects, rej...)
	}
	return res, nil
}

// source is the event source of ic's documents: the prefix and the sender.
func (m *Mapper) source(ic *x12.Interchange) string { return m.prefix + url.PathEscape(ic.SenderID) }

// setCtx is the state of mapping one set.
type setCtx struct {
	m      *Mapper
	ic     *x12.Interchange
	g      *x12.Group
	s      *x12.Set
	ref    string
	origin canonical.Origin

	events   []*canonical.Event
	rejects  []Reject
	warnings []Reject
}

func (c *setCtx) reject(code, reason string, seg x12.Segment, elem int) Reject {
	return Reject{Code: code, Reason: reason, Ref: c.ref, SetID: c.s.ID, SegmentID: seg.ID, Segment: seg.Pos,
		Element: elem, Offset: seg.Offset, Payload: c.s.Raw}
}

// fail records a problem at element elem of seg.
func (c *setCtx) fail(code string, seg x12.Segment, elem int, format string, args ...any) {
	c.rejects = append(c.rejects, c.reject(code, fmt.Sprintf(format, args...), seg, elem))
}

// failErr records err, with its Code() when it has one.
func (c *setCtx) failErr(err error, seg x12.Segment, elem int, what string) {
	code := "x12map_invalid"
	var coder interface{ Code() string }
	if errors.As(err, &coder) {
		code = coder.Code()
	}
	c.rejects = append(c.rejects, c.reject(code, what+": "+err.Error(), seg, elem))
}

// warn records a problem that does not stop the mapping.
func (c *setCtx) warn(code string, seg x12.Segment, elem int, format string, args ...any) {
	c.warnings = append(c.warnings, c.reject(code, fmt.Sprintf(format, args...), seg, elem))
}

// failed reports whether the set has problems so far.
func (c *setCtx) failed() bool { return len(c.rejects) > 0 }

// emit builds an event. suffix distinguishes several events of one set in
// the record key ("" for the set's main event, e.g. ";W12=2" for a line).
func (c *setCtx) emit(suffix string, occurred time.Time, data canonical.Data, opts ...canonical.EventOption) {
	e, err := canonical.NewEvent(c.origin, canonical.Record{Key: c.ref + suffix, Ref: c.ref}, occurred, data, opts...)
	if err != nil {
		var ve *canonical.ValidationError
		if errors.As(err, &ve) {
			for _, p := range ve.Problems {
				c.fail(p.Code, x12.Segment{}, 0, "%s event: %s: %s", canonical.TypeOf(data).Short(), p.Path, p.Message)
			}
			return
		}
		c.failErr(err, x12.Segment{}, 0, "build event")
		return
	}
	c.events = append(c.events, e)
}

// need returns element i of seg, or records it as missing.
func (c *setCtx) need(seg x12.Segment, i int, what string) string {
	v := seg.Elem(i)
	if v == "" {
		c.fail(CodeMissing, seg, i, "%s-%02d (%s) is empty", seg.ID, i, what)
	}
	return v
}

// missing records a segment the mapping needs that the set lacks.
func (c *setCtx) missing(id, what string) {
	c.fail(CodeMissing, c.s.Segments[0], 0, "set %s has no %s segment (%s)", c.s.ControlNumber, id, what)
}

// owner finds the owner id among the sender's and receiver's partner
// entries (ISA ids, then GS codes).
func (c *setCtx) owner() string {
	var found []string
	for _, id := range []string{c.ic.SenderID, c.g.Sender, c.ic.ReceiverID, c.g.Receiver} {
		if p, ok := c.m.partners[id]; ok && p.OwnerID != "" && !contains(found, p.OwnerID) {
			found = append(found, p.OwnerID)
		}
	}
	switch len(found) {
	case 1:
		return found[0]
	case 0:
		c.fail(CodeOwnerUnknown, x12.Segment{}, 0, "neither sender %s nor receiver %s is a partner with an owner id", c.ic.SenderID, c.ic.ReceiverID)
	default:
		c.fail(CodeOwnerUnknown, x12.Segment{}, 0, "sender and receiver map to different owners %s", strings.Join(found, ", "))
	}
	return ""
}

// senderZone is the zone of the sending partner's clock.
func (c *setCtx) senderZone() *time.Location {
	for _, id := range []string{c.ic.SenderID, c.g.Sender} {
		if p, ok := c.m.partners[id]; ok && p.loc != nil {
			return p.loc
		}
	}
	return c.m.site
}

// carrier makes a carrier from a SCAC, falling back to the partner's SCAC,
// with the partner's name when the document gives none.
func (c *setCtx) carrier(scac, name string) *canonical.Carrier {
	if scac == "" {
		for _, id := range []string{c.ic.SenderID, c.g.Sender} {
			if p, ok := c.m.partners[id]; ok && p.SCAC != "" {
				scac = p.SCAC
				break
			}
		}
	}
	if scac == "" {
		return nil
	}
	if name == "" {
		name = c.m.scacNames[scac]
	}
	return &canonical.Carrier{Scac: scac, Name: name}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

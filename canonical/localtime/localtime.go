// Package localtime turns site-local wall-clock times into instants.
//
// Sources such as warehouse databases and X12 214s with time code LT record
// what the clock on the wall said at the site. dray stores instants (UTC)
// plus the offset in force, so every wall time is resolved in the site's
// IANA zone, and the two cases where the wall clock does not name exactly
// one instant are handled by rule rather than by accident:
//
//   - Gap (spring forward): a wall time the clocks skipped, such as
//     02:30 on 2025-03-09 in America/Chicago, never happened. Resolve
//     returns a *GapError (code time_nonexistent). It does not guess: such
//     a time in source data is a data error, usually a naive conversion
//     upstream.
//   - Overlap (fall back): a wall time the clocks showed twice, such as
//     01:30 on 2025-11-02 in America/Chicago, resolves to the EARLIER
//     instant, the first occurrence, still on the pre-transition offset
//     (usually daylight time: 01:30 CDT = 06:30Z, not 01:30 CST = 07:30Z),
//     and Resolved.Ambiguous is set so the event can carry the flag.
//
// Both cases are detected explicitly, not left to time.Date, whose choice
// in them is unspecified: Resolve collects every UTC offset the zone uses
// within 36 hours of the wall time and keeps each candidate instant whose
// wall clock in the zone equals the input.
//
// Other rules:
//
//   - Fields are checked, not normalised: month 13, February 30, hour 24 or
//     second 60 is an error (code time_invalid), where time.Date would
//     silently roll over to another day. Years run from 0 to 9999, the
//     range RFC 3339 can write.
//   - Zones are loaded by IANA name through LoadZone, which rejects "" and
//     "Local" (a machine's zone is not a site's) and caches what it loads.
//     The zone database is embedded (time/tzdata), so agents on machines
//     without one, such as Windows, resolve the same way; a system
//     database, where present, takes precedence.
//   - Offsets are written ±hh:mm, always with a sign and never "Z", so that
//     an occurredoffset field has one shape; see FormatOffset and
//     ParseOffset.
//
// Every error has a Code method returning one of time_nonexistent,
// time_invalid, time_zone_unknown or time_offset_invalid.
package localtime

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // embedded zone database for machines without one
)

// Wall is a wall-clock reading with no zone attached.
type Wall struct {
	Year       int
	Month      time.Month
	Day        int
	Hour       int
	Minute     int
	Second     int
	Nanosecond int
}

// String formats w as 2006-01-02T15:04:05 with any fraction of a second
// appended, and without an offset, since a Wall has none.
func (w Wall) String() string {
	s := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", w.Year, int(w.Month), w.Day, w.Hour, w.Minute, w.Second)
	if w.Nanosecond != 0 {
		s += strings.TrimRight(fmt.Sprintf(".%09d", w.Nanosecond), "0")
	}
	return s
}

// check reports the first out-of-range field.
func (w Wall) check() error {
	bad := func(format string, args ...any) error {
		return &InvalidError{Value: w.String(), Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case w.Year < 0 || w.Year > 9999:
		return bad("year %d out of range 0..9999", w.Year)
	case w.Month < time.January || w.Month > time.December:
		return bad("month %d out of range 1..12", int(w.Month))
	case w.Day < 1 || w.Day > daysIn(w.Year, w.Month):
		return bad("day %d out of range for %s %d", w.Day, w.Month, w.Year)
	case w.Hour < 0 || w.Hour > 23:
		return bad("hour %d out of range 0..23", w.Hour)
	case w.Minute < 0 || w.Minute > 59:
		return bad("minute %d out of range 0..59", w.Minute)
	case w.Second < 0 || w.Second > 59:
		return bad("second %d out of range 0..59", w.Second)
	case w.Nanosecond < 0 || w.Nanosecond > 999_999_999:
		return bad("nanosecond %d out of range", w.Nanosecond)
	}
	return nil
}

func daysIn(year int, m time.Month) int {
	// Day 0 of the next month is the last day of this one.
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func wallOf(t time.Time) Wall {
	return Wall{t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond()}
}

// Resolved is the instant a wall time names in a zone.
type Resolved struct {
	Time      time.Time // the instant, in UTC
	Offset    int       // seconds east of UTC in force at Time
	Ambiguous bool      // the wall time occurred twice; Time is the earlier occurrence
}

// window bounds the search for offsets around a wall time. Real offsets lie
// within ±14h, and a candidate instant is the wall time minus one of them,
// so 36 hours covers every offset that can matter with room to spare.
const window = 36 * time.Hour

// Resolve returns the instant at which the clocks in loc showed wall. A
// wall time skipped by a clock change is a *GapError; one shown twice
// resolves to its earlier occurrence with Ambiguous set. loc must be a
// named zone (see LoadZone), not nil or time.Local.
func Resolve(wall Wall, loc *time.Location) (Resolved, error) {
	if loc == nil || loc == time.Local {
		return Resolved{}, &ZoneError{Name: locName(loc), Reason: "resolve needs a site's zone, not the machine's"}
	}
	if err := wall.check(); err != nil {
		return Resolved{}, err
	}
	// The wall fields read as if in UTC; subtracting an offset gives the
	// instant the wall time would be under that offset.
	asUTC := time.Date(wall.Year, wall.Month, wall.Day, wall.Hour, wall.Minute, wall.Second, wall.Nanosecond, time.UTC)

	var matches []time.Time
	for _, off := range offsetsNear(asUTC, loc) {
		t := asUTC.Add(-time.Duration(off) * time.Second).In(loc)
		if _, o := t.Zone(); o == off && wallOf(t) == wall {
			matches = append(matches, t)
		}
	}
	if len(matches) == 0 {
		return Resolved{}, &GapError{Zone: loc.String(), Wall: wall}
	}
	slices.SortFunc(matches, time.Time.Compare)
	_, off := matches[0].Zone()
	return Resolved{Time: matches[0].UTC(), Offset: off, Ambiguous: len(matches) > 1}, nil
}

// offsetsNear returns the distinct offsets loc uses within window of t,
// walking from one zone period to the next with ZoneBounds.
func offsetsNear(t time.Time, loc *time.Location) []int {
	var offs []int
	cur, end := t.Add(-window).In(loc), t.Add(window)
	// Zones change offset at most a few times a year; the cap only guards
	// against a malformed zone that never advances.
	for range 64 {
		if _, off := cur.Zone(); !slices.Contains(offs, off) {
			offs = append(offs, off)
		}
		_, next := cur.ZoneBounds()
		if next.IsZero() || !next.After(cur) || next.After(end) {
			break
		}
		cur = next.In(loc)
	}
	return offs
}

func locName(loc *time.Location) string {
	if loc == nil {
		return ""
	}
	return loc.String()
}

var zones struct {
	mu     sync.RWMutex
	byName map[string]*time.Location // guarded by mu
}

// LoadZone returns the IANA zone with the given name, e.g. "America/Chicago".
// The empty name and "Local" are rejected: both mean "this machine's zone",
// which differs between an agent and the relay. Zones are cached after the
// first successful load; unknown names are not cached, so a bad name in
// configuration cannot grow the cache.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, &ZoneError{Name: name, Reason: "a site needs a named IANA zone"}
	}
	zones.mu.RLock()
	loc, ok := zones.byName[name]
	zones.mu.RUnlock()
	if ok {
		return loc, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, &ZoneError{Name: name, Reason: "unknown zone", Err: err}
	}
	zones.mu.Lock()
	if zones.byName == nil {
		zones.byName = make(map[string]*time.Location)
	}
	zones.byName[name] = loc
	zones.mu.Unlock()
	return loc, nil
}

// maxOffset is the largest offset ParseOffset accepts, ±18:00, the bound
// ISO 8601 profiles commonly use; real zones stay within -12:00..+14:00.
const maxOffset = 18 * 3600

// FormatOffset writes an offset in seconds east of UTC as ±hh:mm, e.g.
// -18000 → "-05:00", 19800 → "+05:30", 0 → "+00:00". It never writes "Z"
// (an offset field always has the same shape) nor "-00:00" (which RFC 3339
// reserves for "offset unknown"). Seconds below a minute, which only
// pre-1900 local mean times have, are dropped, as time.Format does.
func FormatOffset(seconds int) string {
	sign := byte('+')
	if seconds < 0 {
		sign, seconds = '-', -seconds
	}
	return fmt.Sprintf("%c%02d:%02d", sign, seconds/3600, seconds/60%60)
}

// ParseOffset reads an offset written ±hh:mm and returns it in seconds
// east of UTC. It is strict: the sign, both digits of each field and the
// colon are required, hours may not exceed 18 (±18:00 at most), and "Z",
// "-00:00", "0500", "+5:00" and "+05" are all errors.
func ParseOffset(s string) (int, error) {
	bad := func(reason string) (int, error) { return 0, &OffsetError{Value: s, Reason: reason} }
	if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' || !digits(s[1:3]) || !digits(s[4:6]) {
		return bad("want ±hh:mm")
	}
	h := int(s[1]-'0')*10 + int(s[2]-'0')
	m := int(s[4]-'0')*10 + int(s[5]-'0')
	off := h*3600 + m*60
	switch {
	case m > 59:
		return bad("minutes out of range 00..59")
	case off > maxOffset:
		return bad("beyond ±18:00")
	case off == 0 && s[0] == '-':
		return bad(`"-00:00" means the offset is unknown`)
	}
	if s[0] == '-' {
		off = -off
	}
	return off, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// zoneMarkers are the pieces of a Go layout that make a parsed value carry
// a zone or an offset: the -07…, Z07… and MST elements, a literal "Z", "+",
// "UTC" or "GMT".
var zoneMarkers = []string{"-07", "Z", "MST", "+", "UTC", "GMT"}

// ParseWall parses a zone-less wall time with a Go time layout, e.g.
// ParseWall("20060102 1504", "20250314 1548"). A layout that would accept a
// zone or offset is rejected, since a value with its own offset is not a
// wall time and must not be resolved in a site zone. Values are checked as
// time.Parse checks them (no February 30); fields the layout lacks are zero
// (year 0, January 1).
func ParseWall(layout, value string) (Wall, error) {
	for _, m := range zoneMarkers {
		if strings.Contains(layout, m) {
			return Wall{}, &InvalidError{Value: value, Reason: fmt.Sprintf("layout %q carries a zone or offset (%q)", layout, m)}
		}
	}
	t, err := time.Parse(layout, value)
	if err != nil {
		return Wall{}, &InvalidError{Value: value, Reason: "does not match layout " + fmt.Sprintf("%q", layout), Err: err}
	}
	return wallOf(t), nil
}

// GapError reports a wall time that does not exist in a zone because the
// clocks skipped it.
type GapError struct {
	Zone string
	Wall Wall
}

// Code returns "time_nonexistent".
func (e *GapError) Code() string { return "time_nonexistent" }

func (e *GapError) Error() string {
	return fmt.Sprintf("wall time %s does not exist in %s: the clocks skipped it", e.Wall, e.Zone)
}

// InvalidError reports a wall time with an out-of-range field, or a value
// or layout ParseWall rejects.
type InvalidError struct {
	Value  string
	Reason string
	Err    error // the time.Parse error, if any
}

// Code returns "time_invalid".
func (e *InvalidError) Code() string { return "time_invalid" }

func (e *InvalidError) Error() string {
	s := fmt.Sprintf("invalid wall time %q: %s", e.Value, e.Reason)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *InvalidError) Unwrap() error { return e.Err }

// ZoneError reports a zone that cannot serve as a site zone.
type ZoneError struct {
	Name   string
	Reason string
	Err    error // the time.LoadLocation error, if any
}

// Code returns "time_zone_unknown".
func (e *ZoneError) Code() string { return "time_zone_unknown" }

func (e *ZoneError) Error() string {
	return fmt.Sprintf("zone %q: %s", e.Name, e.Reason)
}

func (e *ZoneError) Unwrap() error { return e.Err }

// OffsetError reports a string ParseOffset rejects.
type OffsetError struct {
	Value  string
	Reason string
}

// Code returns "time_offset_invalid".
func (e *OffsetError) Code() string { return "time_offset_invalid" }

func (e *OffsetError) Error() string {
	return fmt.Sprintf("offset %q: %s", e.Value, e.Reason)
}

package localtime

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := LoadZone(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func wall(y int, m time.Month, d, h, min int) Wall {
	return Wall{Year: y, Month: m, Day: d, Hour: h, Minute: min}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name          string
		zone          string
		wall          Wall
		want          string // RFC 3339 UTC
		wantOffset    int
		wantAmbiguous bool
	}{
		{"chicago daylight", "America/Chicago", wall(2025, 3, 14, 15, 48), "2025-03-14T20:48:00Z", -5 * 3600, false},
		{"chicago standard", "America/Chicago", wall(2025, 1, 15, 9, 0), "2025-01-15T15:00:00Z", -6 * 3600, false},
		{"chicago just before gap", "America/Chicago", Wall{2025, 3, 9, 1, 59, 59, 999_999_999}, "2025-03-09T07:59:59.999999999Z", -6 * 3600, false},
		{"chicago gap end", "America/Chicago", wall(2025, 3, 9, 3, 0), "2025-03-09T08:00:00Z", -5 * 3600, false},
		{"chicago overlap", "America/Chicago", wall(2025, 11, 2, 1, 30), "2025-11-02T06:30:00Z", -5 * 3600, true},
		{"chicago overlap start", "America/Chicago", wall(2025, 11, 2, 1, 0), "2025-11-02T06:00:00Z", -5 * 3600, true},
		{"chicago before overlap", "America/Chicago", Wall{2025, 11, 2, 0, 59, 59, 0}, "2025-11-02T05:59:59Z", -5 * 3600, false},
		{"chicago after overlap", "America/Chicago", wall(2025, 11, 2, 2, 0), "2025-11-02T08:00:00Z", -6 * 3600, false},
		{"new york", "America/New_York", wall(2025, 3, 15, 10, 5), "2025-03-15T14:05:00Z", -4 * 3600, false},
		{"london summer", "Europe/London", wall(2025, 7, 1, 12, 0), "2025-07-01T11:00:00Z", 3600, false},
		{"london winter", "Europe/London", wall(2025, 1, 1, 12, 0), "2025-01-01T12:00:00Z", 0, false},
		{"london overlap", "Europe/London", wall(2025, 10, 26, 1, 30), "2025-10-26T00:30:00Z", 3600, true},
		{"kolkata", "Asia/Kolkata", wall(2025, 3, 14, 12, 0), "2025-03-14T06:30:00Z", 5*3600 + 1800, false},
		{"lord howe overlap", "Australia/Lord_Howe", wall(2025, 4, 6, 1, 45), "2025-04-05T14:45:00Z", 11 * 3600, true},
		{"lord howe after overlap", "Australia/Lord_Howe", wall(2025, 4, 6, 2, 0), "2025-04-05T15:30:00Z", 10*3600 + 1800, false},
		{"lord howe after gap", "Australia/Lord_Howe", wall(2025, 10, 5, 2, 30), "2025-10-04T15:30:00Z", 11 * 3600, false},
		{"apia before skipped day", "Pacific/Apia", wall(2011, 12, 29, 23, 59), "2011-12-30T09:59:00Z", -10 * 3600, false},
		{"apia after skipped day", "Pacific/Apia", wall(2011, 12, 31, 0, 0), "2011-12-30T10:00:00Z", 14 * 3600, false},
		{"utc", "UTC", wall(2025, 3, 9, 2, 30), "2025-03-09T02:30:00Z", 0, false},
		{"leap day", "America/Chicago", wall(2024, 2, 29, 12, 0), "2024-02-29T18:00:00Z", -6 * 3600, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.wall, mustZone(t, tt.zone))
			if err != nil {
				t.Fatalf("Resolve(%s, %s): %v", tt.wall, tt.zone, err)
			}
			want, _ := time.Parse(time.RFC3339Nano, tt.want)
			if !got.Time.Equal(want) || got.Time.Location() != time.UTC {
				t.Errorf("Time = %v; want %v in UTC", got.Time, want)
			}
			if got.Offset != tt.wantOffset {
				t.Errorf("Offset = %d; want %d", got.Offset, tt.wantOffset)
			}
			if got.Ambiguous != tt.wantAmbiguous {
				t.Errorf("Ambiguous = %v; want %v", got.Ambiguous, tt.wantAmbiguous)
			}
		})
	}
}

func TestResolveGap(t *testing.T) {
	tests := []struct {
		zone string
		wall Wall
	}{
		{"America/Chicago", wall(2025, 3, 9, 2, 30)},
		{"America/Chicago", wall(2025, 3, 9, 2, 0)},
		{"America/Chicago", Wall{2025, 3, 9, 2, 59, 59, 999_999_999}},
		{"Europe/London", wall(2025, 3, 30, 1, 30)},
		{"Australia/Lord_Howe", wall(2025, 10, 5, 2, 15)}, // 30-minute jump
		{"Pacific/Apia", wall(2011, 12, 30, 0, 0)},        // the whole day was skipped
		{"Pacific/Apia", wall(2011, 12, 30, 12, 0)},
		{"Pacific/Apia", wall(2011, 12, 30, 23, 59)},
	}
	for _, tt := range tests {
		_, err := Resolve(tt.wall, mustZone(t, tt.zone))
		var g *GapError
		if !errors.As(err, &g) {
			t.Errorf("Resolve(%s, %s) error = %v; want *GapError", tt.wall, tt.zone, err)
			continue
		}
		if g.Code() != "time_nonexistent" || g.Zone != tt.zone || g.Wall != tt.wall {
			t.Errorf("GapError = %+v (code %s); want zone %s, wall %s", g, g.Code(), tt.zone, tt.wall)
		}
	}
	_, err := Resolve(wall(2025, 3, 9, 2, 30), mustZone(t, "America/Chicago"))
	if got, want := err.Error(), "wall time 2025-03-09T02:30:00 does not exist in America/Chicago: the clocks skipped it"; got != want {
		t.Errorf("Error() = %s; want %s", got, want)
	}
}

func TestResolveInvalid(t *testing.T) {
	chicago := mustZone(t, "America/Chicago")
	tests := []Wall{
		{2025, 13, 1, 0, 0, 0, 0},
		{2025, 0, 1, 0, 0, 0, 0},
		{2025, 2, 29, 0, 0, 0, 0}, // 2025 is not a leap year
		{2025, 2, 30, 0, 0, 0, 0},
		{2025, 4, 31, 0, 0, 0, 0},
		{2025, 3, 0, 0, 0, 0, 0},
		{2025, 3, 14, 24, 0, 0, 0},
		{2025, 3, 14, -1, 0, 0, 0},
		{2025, 3, 14, 15, 60, 0, 0},
		{2025, 3, 14, 15, 48, 60, 0}, // leap seconds are not representable
		{2025, 3, 14, 15, 48, 0, 1_000_000_000},
		{2025, 3, 14, 15, 48, 0, -1},
		{10000, 1, 1, 0, 0, 0, 0},
		{-1, 1, 1, 0, 0, 0, 0},
		{},
	}
	for _, w := range tests {
		_, err := Resolve(w, chicago)
		var e *InvalidError
		if !errors.As(err, &e) || e.Code() != "time_invalid" {
			t.Errorf("Resolve(%+v) error = %v; want time_invalid", w, err)
		}
	}
	_, err := Resolve(Wall{2025, 2, 30, 0, 0, 0, 0}, chicago)
	if got, want := err.Error(), `invalid wall time "2025-02-30T00:00:00": day 30 out of range for February 2025`; got != want {
		t.Errorf("Error() = %s; want %s", got, want)
	}
}

func TestResolveNeedsNamedZone(t *testing.T) {
	for _, loc := range []*time.Location{nil, time.Local} {
		_, err := Resolve(wall(2025, 3, 14, 15, 48), loc)
		var e *ZoneError
		if !errors.As(err, &e) || e.Code() != "time_zone_unknown" {
			t.Errorf("Resolve(loc=%v) error = %v; want time_zone_unknown", loc, err)
		}
	}
}

func TestResolveFixedZone(t *testing.T) {
	got, err := Resolve(wall(2025, 3, 9, 2, 30), time.FixedZone("EST", -5*3600))
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 3, 9, 7, 30, 0, 0, time.UTC); !got.Time.Equal(want) || got.Offset != -5*3600 || got.Ambiguous {
		t.Errorf("Resolve = %+v; want %v, -18000, unambiguous", got, want)
	}
}

func TestLoadZone(t *testing.T) {
	a := mustZone(t, "America/Chicago")
	if b := mustZone(t, "America/Chicago"); a != b {
		t.Error("second LoadZone returned a different *Location; want the cached one")
	}
	if got := a.String(); got != "America/Chicago" {
		t.Errorf("String() = %q; want America/Chicago", got)
	}
	for _, name := range []string{"", "Local", "Mars/Olympus_Mons", "../../etc/passwd", "CST"} {
		_, err := LoadZone(name)
		var e *ZoneError
		if !errors.As(err, &e) || e.Code() != "time_zone_unknown" {
			t.Errorf("LoadZone(%q) error = %v; want time_zone_unknown", name, err)
		}
	}
}

func TestLoadZoneConcurrent(t *testing.T) {
	names := []string{"Europe/Berlin", "Asia/Tokyo", "America/Denver", "Pacific/Auckland"}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := names[i%len(names)]
			if loc, err := LoadZone(name); err != nil || loc.String() != name {
				t.Errorf("LoadZone(%q) = %v, %v", name, loc, err)
			}
		}()
	}
	wg.Wait()
}

func TestFormatOffset(t *testing.T) {
	tests := []struct {
		seconds int
		want    string
	}{
		{0, "+00:00"},
		{-5 * 3600, "-05:00"},
		{-6 * 3600, "-06:00"},
		{5*3600 + 1800, "+05:30"},
		{12*3600 + 2700, "+12:45"}, // Pacific/Chatham
		{-(9*3600 + 1800), "-09:30"},
		{14 * 3600, "+14:00"},
		{-(5*3600 + 50*60 + 36), "-05:50"}, // Chicago local mean time; seconds dropped
	}
	for _, tt := range tests {
		if got := FormatOffset(tt.seconds); got != tt.want {
			t.Errorf("FormatOffset(%d) = %q; want %q", tt.seconds, got, tt.want)
		}
	}
}

func TestParseOffset(t *testing.T) {
	valid := []struct {
		in   string
		want int
	}{
		{"+00:00", 0},
		{"-05:00", -5 * 3600},
		{"+05:30", 5*3600 + 1800},
		{"+05:45", 5*3600 + 2700},
		{"-09:30", -(9*3600 + 1800)},
		{"+14:00", 14 * 3600},
		{"+18:00", 18 * 3600},
		{"-18:00", -18 * 3600},
	}
	for _, tt := range valid {
		got, err := ParseOffset(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseOffset(%q) = %d, %v; want %d, nil", tt.in, got, err, tt.want)
		}
	}
	invalid := []string{
		"", "Z", "z", "0500", "+0500", "+5:00", "+05", "05:00", "+05:00:00",
		"-00:00", "+18:01", "+19:00", "-23:59", "+05:60", "+05:3a", "+0a:00",
		" +05:00", "+05:00 ", "−05:00", "+05-00", "UTC", "+٠٥:٠٠",
	}
	for _, s := range invalid {
		_, err := ParseOffset(s)
		var e *OffsetError
		if !errors.As(err, &e) || e.Code() != "time_offset_invalid" {
			t.Errorf("ParseOffset(%q) error = %v; want time_offset_invalid", s, err)
		}
	}
}

func TestOffsetRoundTrip(t *testing.T) {
	for off := -18 * 3600; off <= 18*3600; off += 60 {
		s := FormatOffset(off)
		got, err := ParseOffset(s)
		if err != nil || got != off {
			t.Fatalf("ParseOffset(FormatOffset(%d) = %q) = %d, %v", off, s, got, err)
		}
	}
}

func FuzzParseOffset(f *testing.F) {
	for _, s := range []string{"+00:00", "-05:00", "+05:30", "+18:00", "Z", "-00:00", "+5:00", "+99:99", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		off, err := ParseOffset(s)
		if err != nil {
			var e *OffsetError
			if !errors.As(err, &e) || e.Code() != "time_offset_invalid" {
				t.Fatalf("ParseOffset(%q) error = %v; want *OffsetError", s, err)
			}
			return
		}
		if off < -maxOffset || off > maxOffset || off%60 != 0 {
			t.Fatalf("ParseOffset(%q) = %d; out of range or not whole minutes", s, off)
		}
		if got := FormatOffset(off); got != s {
			t.Fatalf("FormatOffset(ParseOffset(%q)) = %q; accepted input must be canonical", s, got)
		}
	})
}

func TestParseWall(t *testing.T) {
	tests := []struct {
		layout, value string
		want          Wall
	}{
		{"2006-01-02 15:04", "2025-03-14 15:48", wall(2025, 3, 14, 15, 48)},
		{"20060102 1504", "20250314 1548", wall(2025, 3, 14, 15, 48)}, // X12 CCYYMMDD + HHMM
		{"060102 1504", "250314 1548", wall(2025, 3, 14, 15, 48)},     // ISA 6-digit date
		{"2006-01-02T15:04:05.000", "2025-03-14T15:48:07.250", Wall{2025, 3, 14, 15, 48, 7, 250_000_000}},
		{"01/02/2006 3:04 PM", "11/02/2025 1:30 AM", wall(2025, 11, 2, 1, 30)},
	}
	for _, tt := range tests {
		got, err := ParseWall(tt.layout, tt.value)
		if err != nil || got != tt.want {
			t.Errorf("ParseWall(%q, %q) = %s, %v; want %s", tt.layout, tt.value, got, err, tt.want)
		}
	}
}

func TestParseWallRejects(t *testing.T) {
	tests := []struct {
		layout, value string
	}{
		// Layouts that carry a zone or offset.
		{time.RFC3339, "2025-03-14T15:48:00-05:00"},
		{"2006-01-02T15:04:05Z", "2025-03-14T15:48:00Z"},
		{"2006-01-02T15:04:05Z07:00", "2025-03-14T15:48:00Z"},
		{"2006-01-02 15:04 -0700", "2025-03-14 15:48 -0500"},
		{"2006-01-02 15:04 -07", "2025-03-14 15:48 -05"},
		{"2006-01-02 15:04 MST", "2025-03-14 15:48 CDT"},
		{"2006-01-02 15:04 UTC", "2025-03-14 15:48 UTC"},
		{"2006-01-02 15:04 +0000", "2025-03-14 15:48 +0000"},
		// Values that carry more than the layout, or impossible fields.
		{"2006-01-02 15:04", "2025-03-14 15:48Z"},
		{"2006-01-02 15:04", "2025-03-14 15:48-05:00"},
		{"2006-01-02 15:04", "2025-02-30 10:00"},
		{"2006-01-02 15:04", "2025-03-14 24:00"},
		{"2006-01-02 15:04", "2025-13-14 10:00"},
		{"2006-01-02 15:04", ""},
	}
	for _, tt := range tests {
		_, err := ParseWall(tt.layout, tt.value)
		var e *InvalidError
		if !errors.As(err, &e) || e.Code() != "time_invalid" {
			t.Errorf("ParseWall(%q, %q) error = %v; want time_invalid", tt.layout, tt.value, err)
		}
	}
}

func TestParseWallThenResolve(t *testing.T) {
	// The 214 fixture's AF status: 20250314 1548 LT at a Memphis stop.
	w, err := ParseWall("20060102 1504", "20250314 1548")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Resolve(w, mustZone(t, "America/Chicago"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Time.Format(time.RFC3339), "2025-03-14T20:48:00Z"; got != want {
		t.Errorf("instant = %s; want %s", got, want)
	}
	if got, want := FormatOffset(r.Offset), "-05:00"; got != want {
		t.Errorf("offset = %s; want %s", got, want)
	}
}

func TestWallString(t *testing.T) {
	tests := []struct {
		w    Wall
		want string
	}{
		{wall(2025, 3, 9, 2, 30), "2025-03-09T02:30:00"},
		{Wall{2025, 3, 9, 2, 30, 5, 250_000_000}, "2025-03-09T02:30:05.25"},
		{Wall{2025, 3, 9, 2, 30, 5, 1}, "2025-03-09T02:30:05.000000001"},
	}
	for _, tt := range tests {
		if got := tt.w.String(); got != tt.want {
			t.Errorf("String() = %q; want %q", got, tt.want)
		}
	}
}

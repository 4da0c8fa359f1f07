package x12

import (
	"fmt"
	"time"

	"github.com/draylink/dray/canonical/localtime"
)

// CenturyPivot is the two-digit year from which a six-digit date (ISA09,
// and any YYMMDD date) is read as 19YY: 00–79 are 2000–2079, 80–99 are
// 1980–1999.
const CenturyPivot = 80

// ParseDateTime reads an X12 date and time into a wall reading. The date is
// CCYYMMDD (DT 8/8) or YYMMDD (DT 6/6, century by CenturyPivot); the time
// is HHMM, HHMMSS, HHMMSSD or HHMMSSDD (TM 4/8; D are tenths and hundredths
// of a second) or empty for midnight. Fields are checked, not normalised:
// February 30 or hour 24 is an error (code time_invalid).
func ParseDateTime(date, tm string) (localtime.Wall, error) {
	bad := func(reason string) (localtime.Wall, error) {
		return localtime.Wall{}, &localtime.InvalidError{Value: date + " " + tm, Reason: reason}
	}
	if !isDigits(date) || (len(date) != 8 && len(date) != 6) {
		return bad("date is not CCYYMMDD or YYMMDD")
	}
	var w localtime.Wall
	if len(date) == 8 {
		w.Year = atoi(date[:4])
		date = date[4:]
	} else {
		w.Year = atoi(date[:2])
		date = date[2:]
		if w.Year < CenturyPivot {
			w.Year += 2000
		} else {
			w.Year += 1900
		}
	}
	w.Month = time.Month(atoi(date[:2]))
	w.Day = atoi(date[2:4])
	if w.Month < 1 || w.Month > 12 || w.Day < 1 || w.Day > time.Date(w.Year, w.Month+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return bad(fmt.Sprintf("no such day %04d-%02d-%02d", w.Year, int(w.Month), w.Day))
	}
	if tm == "" {
		return w, nil
	}
	if !isDigits(tm) || len(tm) < 4 || len(tm) > 8 || len(tm) == 5 {
		return bad("time is not HHMM, HHMMSS, HHMMSSD or HHMMSSDD")
	}
	w.Hour, w.Minute = atoi(tm[:2]), atoi(tm[2:4])
	if len(tm) >= 6 {
		w.Second = atoi(tm[4:6])
	}
	switch len(tm) {
	case 7:
		w.Nanosecond = atoi(tm[6:7]) * 100_000_000
	case 8:
		w.Nanosecond = atoi(tm[6:8]) * 10_000_000
	}
	if w.Hour > 23 || w.Minute > 59 || w.Second > 59 {
		return bad("time out of range")
	}
	return w, nil
}

// atoi reads a short run of ASCII digits the caller has checked.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

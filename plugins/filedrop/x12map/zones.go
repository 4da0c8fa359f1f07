package x12map

import (
	"fmt"
	"strings"
	"time"

	"github.com/draylink/dray/canonical/localtime"
)

// regionZones maps "COUNTRY/REGION" (ISO 3166 country, USPS state or
// Canada Post province code, as X12 N4-02/MS1-02 carry them) to the IANA
// zone most of the region lives in. States split between zones (TN, KY,
// IN, FL, TX, MI, ND, SD, NE, KS, OR, ID, AK and several provinces) take
// their majority zone; places in the other zone are in cityZones below or
// must be added with Config.CityZones.
var regionZones = map[string]string{
	"US/AL": "America/Chicago", "US/AK": "America/Anchorage", "US/AZ": "America/Phoenix",
	"US/AR": "America/Chicago", "US/CA": "America/Los_Angeles", "US/CO": "America/Denver",
	"US/CT": "America/New_York", "US/DE": "America/New_York", "US/DC": "America/New_York",
	"US/FL": "America/New_York", "US/GA": "America/New_York", "US/HI": "Pacific/Honolulu",
	"US/ID": "America/Boise", "US/IL": "America/Chicago", "US/IN": "America/Indiana/Indianapolis",
	"US/IA": "America/Chicago", "US/KS": "America/Chicago", "US/KY": "America/New_York",
	"US/LA": "America/Chicago", "US/ME": "America/New_York", "US/MD": "America/New_York",
	"US/MA": "America/New_York", "US/MI": "America/Detroit", "US/MN": "America/Chicago",
	"US/MS": "America/Chicago", "US/MO": "America/Chicago", "US/MT": "America/Denver",
	"US/NE": "America/Chicago", "US/NV": "America/Los_Angeles", "US/NH": "America/New_York",
	"US/NJ": "America/New_York", "US/NM": "America/Denver", "US/NY": "America/New_York",
	"US/NC": "America/New_York", "US/ND": "America/Chicago", "US/OH": "America/New_York",
	"US/OK": "America/Chicago", "US/OR": "America/Los_Angeles", "US/PA": "America/New_York",
	"US/RI": "America/New_York", "US/SC": "America/New_York", "US/SD": "America/Chicago",
	"US/TN": "America/Chicago", "US/TX": "America/Chicago", "US/UT": "America/Denver",
	"US/VT": "America/New_York", "US/VA": "America/New_York", "US/WA": "America/Los_Angeles",
	"US/WV": "America/New_York", "US/WI": "America/Chicago", "US/WY": "America/Denver",
	"US/PR": "America/Puerto_Rico", "US/VI": "America/St_Thomas", "US/GU": "Pacific/Guam",
	"US/AS": "Pacific/Pago_Pago", "US/MP": "Pacific/Saipan",

	"CA/AB": "America/Edmonton", "CA/BC": "America/Vancouver", "CA/MB": "America/Winnipeg",
	"CA/NB": "America/Moncton", "CA/NL": "America/St_Johns", "CA/NS": "America/Halifax",
	"CA/NT": "America/Yellowknife", "CA/NU": "America/Iqaluit", "CA/ON": "America/Toronto",
	"CA/PE": "America/Halifax", "CA/QC": "America/Toronto", "CA/SK": "America/Regina",
	"CA/YT": "America/Whitehorse",
}

// cityZones lists freight cities in a minority zone of their state, keyed
// "COUNTRY/REGION/CITY".
var cityZones = map[string]string{
	"US/TN/KNOXVILLE": "America/New_York", "US/TN/CHATTANOOGA": "America/New_York",
	"US/TN/JOHNSON CITY": "America/New_York", "US/TN/KINGSPORT": "America/New_York",
	"US/TN/BRISTOL": "America/New_York", "US/TN/OAK RIDGE": "America/New_York",
	"US/KY/BOWLING GREEN": "America/Chicago", "US/KY/PADUCAH": "America/Chicago",
	"US/KY/OWENSBORO": "America/Chicago", "US/KY/HOPKINSVILLE": "America/Chicago",
	"US/IN/EVANSVILLE": "America/Chicago", "US/IN/GARY": "America/Chicago",
	"US/IN/HAMMOND": "America/Chicago", "US/IN/MERRILLVILLE": "America/Chicago",
	"US/IN/VALPARAISO": "America/Chicago", "US/IN/MICHIGAN CITY": "America/Chicago",
	"US/FL/PENSACOLA": "America/Chicago", "US/FL/PANAMA CITY": "America/Chicago",
	"US/FL/FORT WALTON BEACH": "America/Chicago", "US/FL/CRESTVIEW": "America/Chicago",
	"US/TX/EL PASO":       "America/Denver",
	"US/MI/IRON MOUNTAIN": "America/Menominee", "US/MI/MENOMINEE": "America/Menominee",
	"US/MI/IRONWOOD":  "America/Menominee",
	"US/ND/DICKINSON": "America/Denver", "US/ND/WILLISTON": "America/Denver",
	"US/SD/RAPID CITY": "America/Denver", "US/SD/SPEARFISH": "America/Denver",
	"US/NE/SCOTTSBLUFF": "America/Denver", "US/NE/SIDNEY": "America/Denver",
	"US/KS/GOODLAND":      "America/Denver",
	"US/OR/ONTARIO":       "America/Boise",
	"US/ID/COEUR D'ALENE": "America/Los_Angeles", "US/ID/LEWISTON": "America/Los_Angeles",
	"US/ID/MOSCOW": "America/Los_Angeles", "US/ID/POST FALLS": "America/Los_Angeles",
	"US/AK/ADAK":   "America/Adak",
	"CA/ON/KENORA": "America/Winnipeg", "CA/ON/DRYDEN": "America/Winnipeg",
	"CA/BC/CRANBROOK": "America/Edmonton", "CA/BC/DAWSON CREEK": "America/Dawson_Creek",
	"CA/BC/FORT ST JOHN": "America/Dawson_Creek", "CA/BC/CRESTON": "America/Creston",
	"CA/SK/LLOYDMINSTER":           "America/Edmonton",
	"CA/NL/HAPPY VALLEY-GOOSE BAY": "America/Goose_Bay", "CA/NL/LABRADOR CITY": "America/Goose_Bay",
}

// zoneError says why no zone was found for a place.
type zoneError struct{ msg string }

func (e *zoneError) Error() string { return e.msg }
func (e *zoneError) Code() string  { return CodeZoneUnknown }

// zoneFor finds the IANA zone of a place named by city, state or province
// and country: Config.CityZones first, then the built-in city list, then
// the region table. The country defaults to US; only US and CA regions are
// built in.
func (m *Mapper) zoneFor(city, region, country string) (*time.Location, error) {
	city = strings.ToUpper(strings.TrimSpace(city))
	region = strings.ToUpper(strings.TrimSpace(region))
	country = strings.ToUpper(strings.TrimSpace(country))
	if country == "USA" {
		country = "US"
	}
	if country == "CAN" {
		country = "CA"
	}
	if country == "" {
		country = "US"
		if _, ok := regionZones["CA/"+region]; ok {
			country = "CA"
		}
	}
	if z, ok := m.cityZones[city+","+region+","+country]; ok {
		return z, nil
	}
	if z, ok := m.cityZones[city+","+region]; ok {
		return z, nil
	}
	name, ok := cityZones[country+"/"+region+"/"+city]
	if !ok {
		name, ok = regionZones[country+"/"+region]
	}
	if !ok {
		return nil, &zoneError{fmt.Sprintf("no time zone known for %s, %s, %s: add it to cityZones", city, region, country)}
	}
	return localtime.LoadZone(name)
}

// zoneSpec is what an X12 time code (element 623) means: a named zone
// whose rules apply (ET, CT …), or a fixed offset (ES, CD, UT, 01 …).
type zoneSpec struct {
	name   string // IANA zone, or "" for a fixed offset
	offset int    // seconds east of UTC for a fixed offset
}

// timeCodes holds every element 623 code except LT (local time), which
// depends on the place. The generic codes follow the zone's daylight rules;
// the S and D codes are fixed offsets whatever the date. Choices: MT is
// America/Denver (Arizona, which keeps standard time, should send MS); HT
// is Pacific/Honolulu (no daylight time; the Aleutians send HD/HS).
var timeCodes = func() map[string]zoneSpec {
	h := func(hours float64) zoneSpec { return zoneSpec{offset: int(hours * 3600)} }
	z := func(name string) zoneSpec { return zoneSpec{name: name} }
	t := map[string]zoneSpec{
		"ET": z("America/New_York"), "ES": h(-5), "ED": h(-4),
		"CT": z("America/Chicago"), "CS": h(-6), "CD": h(-5),
		"MT": z("America/Denver"), "MS": h(-7), "MD": h(-6),
		"PT": z("America/Los_Angeles"), "PS": h(-8), "PD": h(-7),
		"AT": z("America/Anchorage"), "AS": h(-9), "AD": h(-8),
		"HT": z("Pacific/Honolulu"), "HS": h(-10), "HD": h(-9),
		"NT": z("America/St_Johns"), "NS": h(-3.5), "ND": h(-2.5),
		"TT": z("America/Halifax"), "TS": h(-4), "TD": h(-3),
		"UT": h(0), "GM": h(0),
	}
	// 01…12 are ISO P01…P12 (UTC+1…+12); 13…24 are M12…M01 (UTC-12…-1).
	for i := 1; i <= 24; i++ {
		off := float64(i)
		if i > 12 {
			off = -float64(25 - i)
		}
		t[fmt.Sprintf("%02d", i)] = h(off)
	}
	return t
}()

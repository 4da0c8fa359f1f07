package wmssim

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
	"github.com/draylink/dray/plugins/filedrop/x12"
	"github.com/draylink/dray/plugins/filedrop/x12map"
)

// mapperFor configures x12map the way a site running the simulator would.
func mapperFor(t *testing.T, tr *Truth) *x12map.Mapper {
	t.Helper()
	partners := map[string]x12map.Partner{}
	for _, p := range tr.Header.Partners {
		partners[p.ID] = x12map.Partner{OwnerID: p.OwnerID, SCAC: p.SCAC, Name: p.Name}
	}
	m, err := x12map.NewMapper(x12map.Config{SiteID: tr.Header.Site, TimeZone: tr.Header.TimeZone, Partners: partners,
		Now: func() time.Time { return time.Date(2025, 3, 20, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestX12FilesParseAndMap reads every X12 file of a run with the file-drop
// connector's own parser and mapper: good sets map without a reject to
// exactly the events the ground truth lists (ids, keys, types, subjects,
// times), and every bad input fails with its expected code where the
// ground truth says.
func TestX12FilesParseAndMap(t *testing.T) {
	dir, _, tr := shared(t)
	m := mapperFor(t, tr)

	type want struct {
		f   *Record
		via Via
	}
	byEvent := map[string]want{} // event id → fact
	for _, f := range tr.Facts {
		for _, v := range f.Via {
			if v.Src == "x12" {
				byEvent[v.EventID] = want{f, v}
			}
		}
	}
	badSet := map[string]*Record{}  // ref → bad set
	badFile := map[string]*Record{} // path → bad file
	for _, b := range tr.Bad {
		for _, w := range b.Where {
			if w.Src != "x12" {
				continue
			}
			if b.Scope == "file" {
				badFile[w.Path] = b
			} else {
				badSet[w.Path+"|"+w.Ref] = b
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "edi", "*.edi"))
	if len(files) < 10 {
		t.Fatalf("only %d X12 files", len(files))
	}
	seen := map[string]int{}
	kinds := map[string]int{}
	badSeen := map[string]bool{}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		ic, err := x12.Parse(data)
		if b := badFile[path]; b != nil {
			var xe *x12.Error
			if !errors.As(err, &xe) || xe.Code() != b.Code {
				t.Errorf("%s (bad %s): parse error %v; want code %s", filepath.Base(path), b.Category, err, b.Code)
			}
			badSeen[b.ID] = true
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(path), err)
			continue
		}
		badRefs := map[string]*Record{}
		for _, s := range ic.Groups[0].Sets {
			ref := ic.Ref(ic.Groups[0], s)
			b := badSet[path+"|"+ref]
			switch {
			case b != nil && b.Category == BadX12SECount:
				if s.OK() || s.Errors[0].Code() != x12.CodeSECount || s.Errors[0].Offset != b.Where[0].Offset {
					t.Errorf("%s %s: errors %v; want %s at byte %d", filepath.Base(path), ref, s.Errors, b.Code, b.Where[0].Offset)
				}
				badRefs[ref] = b
			case b != nil:
				badRefs[ref] = b
			case !s.OK():
				t.Errorf("%s %s: %v", filepath.Base(path), ref, s.Errors)
			}
		}
		res, err := m.Map(ic)
		if err != nil {
			t.Fatal(err)
		}
		for _, rj := range res.Rejects {
			b := badRefs[rj.Ref]
			if b == nil {
				t.Errorf("%s: unexpected reject %s", filepath.Base(path), rj)
				continue
			}
			badSeen[b.ID] = true
			if b.Category == BadX12BadSSCC && (rj.Code != b.Code || rj.SegmentID != "MAN" || rj.Segment != b.Where[0].SegmentPos ||
				rj.Offset != b.Where[0].Offset) {
				t.Errorf("%s: reject %s; want %s at MAN segment %d byte %d", filepath.Base(path), rj, b.Code, b.Where[0].SegmentPos, b.Where[0].Offset)
			}
		}
		for _, e := range res.Events {
			w, ok := byEvent[e.GetId()]
			if !ok {
				t.Errorf("%s: event %s %s (%s) is not in the ground truth", filepath.Base(path), e.GetType(), e.GetSubject(), e.GetSourceRef())
				continue
			}
			seen[e.GetId()]++
			kinds[w.f.Kind]++
			key := w.f.Key
			if w.via.Key != "" {
				key = w.via.Key
			}
			if e.GetIdempotencyKey() != key || e.GetType() != w.f.Type || e.GetSubject() != w.f.Subject || w.via.Path != path {
				t.Errorf("%s: event %s %s key %s; truth %s %s %s key %s at %s", filepath.Base(path), e.GetType(), e.GetSubject(),
					e.GetIdempotencyKey(), w.f.ID, w.f.Type, w.f.Subject, key, w.via.Path)
			}
			got := e.GetTime().AsTime().UTC()
			wantT, _ := time.Parse(time.RFC3339, w.f.Time)
			if !got.Equal(wantT.Truncate(time.Minute)) {
				t.Errorf("%s: event %s %s at %s; truth says %s", filepath.Base(path), e.GetType(), e.GetSubject(), got, wantT)
			}
			if ss, ok := e.Payload().(*canonical.ShipmentStatusChanged); ok && ss.GetMilestone() == canonical.Milestone_MILESTONE_DELIVERED {
				if w.f.Detail.StopSeq != int(ss.GetStopSeq()) {
					t.Errorf("%s: stop %d; truth %d", e.GetSubject(), ss.GetStopSeq(), w.f.Detail.StopSeq)
				}
			}
		}
	}
	for id, w := range byEvent {
		if seen[id] != 1 {
			t.Errorf("fact %s (%s) via %s %s: mapped %d times", w.f.ID, w.f.Kind, filepath.Base(w.via.Path), w.via.RecordKey, seen[id])
		}
	}
	for _, b := range tr.Bad {
		if strings.HasPrefix(b.Category, "x12_") && !badSeen[b.ID] && b.Category != BadX12SECount {
			t.Errorf("bad input %s (%s) was not rejected", b.ID, b.Category)
		}
	}
	for _, k := range []string{"shipment", "line_status", "milestone", "pod", "snapshot"} {
		if kinds[k] == 0 {
			t.Errorf("no %s events mapped from X12", k)
		}
	}
	t.Logf("X12: %d files, events by kind %v", len(files), kinds)
	cats := map[string]int{}
	for _, b := range tr.Bad {
		cats[b.Category]++
	}
	for _, c := range []string{BadX12SECount, BadX12BadSSCC, BadX12Truncated} {
		if cats[c] == 0 {
			t.Errorf("no %s bad input generated", c)
		}
	}
}

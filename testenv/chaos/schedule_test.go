package chaos

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/draylink/dray/agent/quarantine"
	"github.com/draylink/dray/testenv/wmssim"
)

var layout = Layout{Agents: 3, SmallDisk: 2, Plugins: []string{"sql", "filedrop"}, Sinks: 2}

// TestScheduleSeeded: a seed gives one schedule; the counts are the
// profile's; faults of one target never overlap and all fall inside the
// fault phase's window (the last one may end in the cooldown).
func TestScheduleSeeded(t *testing.T) {
	for _, p := range []Profile{Default(), Short()} {
		a, err := NewSchedule(42, p, layout)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewSchedule(42, p, layout)
		c, _ := NewSchedule(43, p, layout)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: the same seed gave two schedules", p.Name)
		}
		if reflect.DeepEqual(a.Faults, c.Faults) {
			t.Fatalf("%s: seeds 42 and 43 gave the same schedule", p.Name)
		}
		for class, n := range p.Scheduled {
			if got := a.Count(class); got != n {
				t.Errorf("%s: %d %s scheduled, want %d", p.Name, got, class, n)
			}
		}
		busyUntil := map[string]time.Duration{}
		for i, f := range a.Faults {
			if i > 0 && f.At < a.Faults[i-1].At {
				t.Fatalf("%s: not sorted at %d", p.Name, i)
			}
			if f.At < p.Warmup || f.At > p.Duration {
				t.Errorf("%s: %v outside the fault phase", p.Name, f)
			}
			key := fmt.Sprint(f.Class, f.Target)
			switch f.Class {
			case AgentKill, AgentKillAfterCommit, PluginKill, PluginHang:
				key = fmt.Sprint("agent", f.Target)
			case Partition, PacketLoss:
				key = fmt.Sprint("link", f.Target)
			case DiskFull:
				if f.Target != layout.SmallDisk {
					t.Errorf("%v: not on the small disk", f)
				}
			}
			if f.At < busyUntil[key] {
				t.Errorf("%s: %v overlaps the previous fault on its target", p.Name, f)
			}
			busyUntil[key] = f.At + f.For
		}
	}
}

func TestWithDuration(t *testing.T) {
	p, err := Default().WithDuration(20 * time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if p.Scheduled[RelayKill] <= Default().Scheduled[RelayKill] || p.Required[RelayKill] <= 30 {
		t.Fatalf("a longer run schedules and requires more: %v %v", p.Scheduled, p.Required)
	}
	if _, err := Short().WithDuration(10 * time.Second); err == nil {
		t.Fatal("a 10 s run was accepted")
	}
}

func TestLocate(t *testing.T) {
	recs := []quarantine.Summary{
		{ID: "1", Source: "sql", Ref: "inventory_movements/990000001"},
		{ID: "2", Source: "filedrop", Ref: "inventory_movements_MEM1_20250314.csv:17:4"},
		{ID: "3", Source: "filedrop", Ref: "x12_945_O1_000000012.edi:3:1 ISA13=000000012;GS06=12;ST02=0001 MAN-02 (segment 9)"},
		{ID: "4", Source: "filedrop", Ref: "x12_214_000000013.edi:40:2"},
	}
	got, err := Locate(recs, "sql")
	if err != nil {
		t.Fatal(err)
	}
	want := []wmssim.Quarantined{{Record: "inventory_movements/990000001"},
		{File: "inventory_movements_MEM1_20250314.csv", Line: 17},
		{File: "x12_945_O1_000000012.edi", Set: "ISA13=000000012;GS06=12;ST02=0001"},
		{File: "x12_214_000000013.edi"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if _, err := Locate([]quarantine.Summary{{ID: "5", Source: "filedrop", Ref: "a.csv:x"}}, "sql"); err == nil {
		t.Fatal("a CSV reference without a line number was accepted")
	}
}

package chaos

import (
	"fmt"
	"reflect"
	"testing"
	"time"
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

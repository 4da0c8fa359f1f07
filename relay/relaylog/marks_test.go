package relaylog

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/draylink/dray/canonical"
)

// TestMarks: marks written with the cursor (more than one transaction's
// worth) or alone survive a reopen, are per consumer, are refused when too
// big, and the cursor moves with them.
func TestMarks(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, RetentionInterval: -1, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append([]*Incoming{batch(t, "MEM1", "e1", canonical.LaneOperational, 1, 1, keys("k", 1, 10)...)}); err != nil {
		t.Fatal(err)
	}
	var ms []Mark
	for i := range marksPerTxn + 10 {
		ms = append(ms, Mark{Name: fmt.Sprintf("f/key-%d", i), Value: []byte(fmt.Sprint(i))})
	}
	if err := l.SetCursorMarks("sink/erp", 6, ms); err != nil {
		t.Fatal(err)
	}
	if err := l.PutMarks("sink/tms", []Mark{{Name: "f/key-1", Value: []byte("tms")}, {Name: "r/x", Value: nil}}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetCursorMarks("sink/erp", 7, []Mark{{Name: strings.Repeat("n", MaxMarkName+1)}}); err == nil {
		t.Error("a mark name over the limit was taken")
	}
	if err := l.PutMarks("sink/erp", []Mark{{Name: "big", Value: make([]byte, MaxMarkValue+1)}}); err == nil {
		t.Error("a mark value over the limit was taken")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	l = openTest(t, Options{Dir: dir})
	if c, err := l.Cursor("sink/erp"); err != nil || c != 6 {
		t.Fatalf("cursor %d, %v; want 6 (the refused write must not move it)", c, err)
	}
	for _, i := range []int{0, marksPerTxn - 1, marksPerTxn, marksPerTxn + 9} {
		v, ok, err := l.GetMark("sink/erp", fmt.Sprintf("f/key-%d", i))
		if err != nil || !ok || string(v) != fmt.Sprint(i) {
			t.Errorf("mark %d: %q %v %v", i, v, ok, err)
		}
	}
	if v, ok, err := l.GetMark("sink/tms", "f/key-1"); err != nil || !ok || string(v) != "tms" {
		t.Errorf("tms mark: %q %v %v", v, ok, err)
	}
	if _, ok, err := l.GetMark("sink/tms", "r/x"); err != nil || !ok {
		t.Errorf("an empty mark: %v %v", ok, err)
	}
	if _, ok, err := l.GetMark("sink/tms", "f/key-2"); err != nil || ok {
		t.Errorf("a mark never written: %v %v", ok, err)
	}
	if _, ok, err := l.GetMark("sink/er", "p/f/key-1"); err != nil || ok {
		t.Errorf("consumer names must not run into mark names: %v %v", ok, err)
	}
	var names []string
	if err := l.ScanMarks("sink/tms", "f/", func(n string) error { names = append(names, n); return nil }); err != nil ||
		len(names) != 1 || names[0] != "f/key-1" {
		t.Errorf("scan of sink/tms f/: %q, %v", names, err)
	}
	n := 0
	if err := l.ScanMarks("sink/erp", "f/", func(string) error { n++; return nil }); err != nil || n != marksPerTxn+10 {
		t.Errorf("scan of sink/erp f/: %d marks, %v", n, err)
	}
	if l.MarkRetention() != DefaultMarkRetention {
		t.Errorf("mark retention %v", l.MarkRetention())
	}
}

// TestMarksExpire: a mark is forgotten MarkRetention after it is written.
func TestMarksExpire(t *testing.T) {
	l := openTest(t, Options{MarkRetention: time.Second})
	if err := l.PutMarks("sink/erp", []Mark{{Name: "f/k", Value: []byte("v")}}); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := l.GetMark("sink/erp", "f/k"); err != nil || !ok {
		t.Fatalf("fresh mark: %v %v", ok, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, ok, err := l.GetMark("sink/erp", "f/k")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the mark outlived its 1s retention by 9s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

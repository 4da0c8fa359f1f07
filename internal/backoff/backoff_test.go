package backoff

import (
	"net/http"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: time.Second, MaxRetryAfter: 10 * time.Second}
	for _, tc := range []struct {
		attempt    int
		retryAfter time.Duration
		lo, hi     time.Duration
	}{
		{1, 0, 50 * time.Millisecond, 100 * time.Millisecond},
		{2, 0, 100 * time.Millisecond, 200 * time.Millisecond},
		{4, 0, 400 * time.Millisecond, 800 * time.Millisecond},
		{10, 0, 500 * time.Millisecond, time.Second},
		{1000, 0, 500 * time.Millisecond, time.Second},
		{1, 3 * time.Second, 3 * time.Second, 3 * time.Second},
		{1, time.Hour, 10 * time.Second, 10 * time.Second},
		{10, time.Millisecond, 500 * time.Millisecond, time.Second},
	} {
		for range 50 {
			if got := p.Delay(tc.attempt, tc.retryAfter); got < tc.lo || got > tc.hi {
				t.Fatalf("Delay(%d, %v) = %v; want in [%v, %v]", tc.attempt, tc.retryAfter, got, tc.lo, tc.hi)
			}
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 14, 20, 48, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{"-1", 0},
		{"1.5", 0},
		{"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	} {
		if got := ParseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %v; want %v", tc.in, got, tc.want)
		}
	}
}

func TestSleepInterrupted(t *testing.T) {
	done := make(chan struct{})
	close(done)
	if Sleep(done, time.Hour) {
		t.Fatal("Sleep with a closed done channel reported the full delay")
	}
	if !Sleep(nil, time.Millisecond) {
		t.Fatal("Sleep(1ms) was interrupted")
	}
}

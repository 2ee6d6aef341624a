package main

import (
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	in := []float64{3, 1, 2}
	median(in)
	if in[0] != 3 {
		t.Errorf("median sorted its argument: %v", in)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{50: 50 * time.Millisecond, 99: 99 * time.Millisecond, 100: 100 * time.Millisecond, 0: time.Millisecond} {
		if got := percentile(ds, p); got != want {
			t.Errorf("percentile(1..100ms, %v) = %v, want %v", p, got, want)
		}
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("percentile(nil) = %v, want 0", got)
	}
}

func TestMediansAndRatios(t *testing.T) {
	yes, no := true, false
	runs := []Run{
		{Kind: kindNativeCopy, Load: false, Repeat: 1, Status: statusOK, WallSeconds: 10, Equal: &yes},
		{Kind: kindTailor, Load: false, Repeat: 1, Status: statusOK, WallSeconds: 20, LoadErrors: 0, Equal: &yes},
		{Kind: kindNativeInplace, Load: false, Repeat: 1, Status: statusRefused},
		{Kind: kindNativeCopy, Load: false, Repeat: 2, Status: statusOK, WallSeconds: 12, Equal: &yes},
		{Kind: kindTailor, Load: false, Repeat: 2, Status: statusOK, WallSeconds: 30, Equal: &no},
		{Kind: kindNativeInplace, Load: false, Repeat: 2, Status: statusRefused},
		{Kind: kindNativeCopy, Load: false, Repeat: 3, Status: statusOK, WallSeconds: 11, Equal: &yes},
		{Kind: kindTailor, Load: false, Repeat: 3, Status: statusFailed, LoadErrors: 2},
		{Kind: kindNativeInplace, Load: false, Repeat: 3, Status: statusRefused},
	}
	setRatios(runs)
	if runs[1].RatioToCopy != 2 || runs[4].RatioToCopy != 2.5 || runs[7].RatioToCopy != 0 {
		t.Errorf("ratios = %v, %v, %v; want 2, 2.5, 0", runs[1].RatioToCopy, runs[4].RatioToCopy, runs[7].RatioToCopy)
	}
	ms := medians(runs)
	if len(ms) != 3 || ms[0].Kind != kindNativeCopy || ms[1].Kind != kindTailor || ms[2].Kind != kindNativeInplace {
		t.Fatalf("medians in the wrong groups or order: %+v", ms)
	}
	if ms[0].WallSeconds != 11 || ms[0].Status != statusOK {
		t.Errorf("native-copy median = %v (%s), want 11 (ok)", ms[0].WallSeconds, ms[0].Status)
	}
	tl := ms[1]
	if tl.WallSeconds != 25 || tl.RatioToCopy != 25.0/11 || tl.Status != "2 of 3 ok" || tl.Equal != 1 || tl.Compared != 2 || tl.LoadErrors != 2 {
		t.Errorf("tailor median = %+v", tl)
	}
	if ms[2].Status != statusRefused || ms[2].WallSeconds != 0 {
		t.Errorf("native-inplace median = %+v, want refused", ms[2])
	}
}

func TestFormatTable(t *testing.T) {
	got := formatTable([]string{"run", "wall", "note"}, [][]string{
		{"native-copy", "1.00s", ""},
		{"tailor", "12.50s", "cut-over é"},
	})
	want := "" +
		"run          wall    note\n" +
		"-----------  ------  ----------\n" +
		"native-copy  1.00s\n" +
		"tailor       12.50s  cut-over é\n"
	if got != want {
		t.Errorf("formatTable:\n%s\nwant:\n%s", got, want)
	}
}

func TestRunRows(t *testing.T) {
	yes := true
	rows := runRows([]Run{
		{Kind: kindTailor, Load: true, Repeat: 1, Status: statusOK, WallSeconds: 2, LoadTransactions: 600, RowsPerSec: 500000, RatioToCopy: 1.5,
			LoadP50Ms: 0.8, LoadP99Ms: 12.3, LoadMaxMs: 15000, LoadTPS: 299.6, Equal: &yes, PeakRSSBytes: 64 << 20},
		{Kind: kindNativeInplace, Load: false, Repeat: 1, Status: statusRefused, Note: "refused by the server: x"},
	}, false)
	want := []string{"tailor", "load", "1", "2.00s", "500000", "1.50", "0.8ms", "12.3ms", "15.0s", "300", "0", "yes", "64 MiB", ""}
	if strings.Join(rows[0], "|") != strings.Join(want, "|") {
		t.Errorf("tailor row = %q, want %q", rows[0], want)
	}
	if len(rows[1]) != len(runHeader(false)) || rows[1][len(rows[1])-1] != "refused: refused by the server: x" {
		t.Errorf("refused row = %q", rows[1])
	}
}

func TestParseKinds(t *testing.T) {
	got, err := parseKinds("tailor, native-copy", allKinds())
	if err != nil || strings.Join(got, ",") != "native-copy,tailor" {
		t.Errorf("parseKinds = %v, %v; want native-copy,tailor in run order", got, err)
	}
	if _, err := parseKinds("gh-ost", allKinds()); err == nil || !strings.Contains(err.Error(), `unknown run "gh-ost"`) {
		t.Errorf("parseKinds(gh-ost) error = %v", err)
	}
	if all, _ := parseKinds("all", allKinds()); len(all) != len(allKinds()) {
		t.Errorf("parseKinds(all) = %v", all)
	}
}

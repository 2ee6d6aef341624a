package main

import (
	"io"
	"strings"
	"testing"
)

func TestBackfillStatements(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		addColumnSQL("sbtest1"): "ALTER TABLE `sbtest1` ADD COLUMN `c2` CHAR(120) NULL, ALGORITHM=INSTANT",
		updateSQL():             "UPDATE `sbtest1` SET `c2` = `c` WHERE `c2` IS NULL",
		naiveBatchSQL():         "UPDATE `sbtest1` SET `c2` = `c` WHERE `id` BETWEEN ? AND ? AND `c2` IS NULL",
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

func TestBackfillKinds(t *testing.T) {
	t.Parallel()
	got, err := parseKinds("tailor-backfill,baseline", modeKinds(modeBackfill))
	if err != nil || strings.Join(got, ",") != "baseline,tailor-backfill" {
		t.Errorf("parseKinds = %v, %v", got, err)
	}
	if _, err := parseKinds("tailor", modeKinds(modeBackfill)); err == nil {
		t.Error("parseKinds accepted alter mode's run in backfill mode")
	}
	if _, err := parseKinds("naive-loop", modeKinds(modeAlter)); err == nil {
		t.Error("parseKinds accepted backfill mode's run in alter mode")
	}
}

func TestParseFlagsMode(t *testing.T) {
	t.Parallel()
	if o, err := parseFlags(nil, io.Discard); err != nil || o.mode != modeAlter {
		t.Errorf("default mode = %q, %v", o.mode, err)
	}
	if o, err := parseFlags([]string{"--mode", "backfill"}, io.Discard); err != nil || o.mode != modeBackfill || o.naiveBatch != 10_000 {
		t.Errorf("--mode backfill = %+v, %v", o, err)
	}
	if _, err := parseFlags([]string{"--mode", "purge"}, io.Discard); err == nil || !strings.Contains(err.Error(), "--mode") {
		t.Errorf("--mode purge error = %v", err)
	}
}

func TestBackfillRatios(t *testing.T) {
	t.Parallel()
	runs := []Run{
		{Kind: kindBaseline, Repeat: 1, Status: statusOK, WallSeconds: 10, LoadP99Ms: 2, LoadTransactions: 3000},
		{Kind: kindUpdate, Repeat: 1, Status: statusOK, WallSeconds: 5, LoadP99Ms: 5000, LoadTransactions: 10},
		{Kind: kindNaiveLoop, Repeat: 1, Status: statusOK, WallSeconds: 20, LoadP99Ms: 100, LoadTransactions: 6000},
		{Kind: kindBackfill, Repeat: 1, Status: statusOK, WallSeconds: 10, LoadP99Ms: 3, LoadTransactions: 3000},
		{Kind: kindBackfill, Repeat: 2, Status: statusOK, WallSeconds: 10, LoadP99Ms: 3, LoadTransactions: 3000},
		{Kind: kindNaiveLoop, Repeat: 2, Status: statusFailed},
	}
	setBackfillRatios(runs)
	for i, want := range [][2]float64{{0, 0}, {0.25, 2500}, {1, 50}, {0.5, 1.5}, {0, 0}, {0, 0}} {
		if got := [2]float64{runs[i].RatioToLoop, runs[i].P99ToBaseline}; got != want {
			t.Errorf("run %d (%s, rep %d): x loop, x alone = %v, want %v", i, runs[i].Kind, runs[i].Repeat, got, want)
		}
	}
	ms := medians(runs[:4])
	setBackfillMedianRatios(ms)
	if m := ms[3]; m.Kind != kindBackfill || m.RatioToLoop != 0.5 || m.P99ToBaseline != 1.5 {
		t.Errorf("median of tailor-backfill = %+v", m)
	}
}

func TestFilledLabel(t *testing.T) {
	t.Parallel()
	zero, some := int64(0), int64(7)
	for n, want := range map[*int64]string{nil: "-", &zero: "all rows", &some: "NO: 7 rows"} {
		if got := filledLabel(n); got != want {
			t.Errorf("filledLabel = %q, want %q", got, want)
		}
	}
}

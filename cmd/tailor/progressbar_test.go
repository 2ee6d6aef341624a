package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/migrate"
)

func TestRenderBar(t *testing.T) {
	cases := []struct {
		name      string
		st        migrate.Status
		throttled []string
		want      []string
	}{
		{"half way", migrate.Status{Phase: migrate.PhaseCopy, RowsCopied: 500, RowsEstimate: 1000, Percent: 50, RowsPerSecond: 250, ETA: 2 * time.Second, Backlog: 3},
			nil, []string{"copy", "[############............]", " 50.0%", "500/1000 rows", "250 rows/s", "ETA 2s", "backlog 3"}},
		{"unknown eta, estimate exceeded", migrate.Status{Phase: migrate.PhaseChecksum, RowsCopied: 1200, RowsEstimate: 1000, Percent: 100, ETA: -1},
			nil, []string{"checksum", "[########################]", "1200/1200 rows", "ETA ?"}},
		{"resumed", migrate.Status{Phase: migrate.PhaseCopy, RowsCopied: 300, RowsCopiedBefore: 500, RowsEstimate: 1000, Percent: 80, RowsPerSecond: 100, ETA: 2 * time.Second},
			nil, []string{" 80.0%", "800/1000 rows", "100 rows/s"}},
		{"throttled", migrate.Status{Phase: migrate.PhaseCopy, ETA: -1}, []string{"paused by the operator"}, []string{"throttled: paused by the operator"}},
		{"postponed", migrate.Status{Phase: migrate.PhasePostponed, Percent: 100, ETA: -1, Postponed: true}, []string{"x"}, []string{"cut-over postponed"}},
		{"paused", migrate.Status{Phase: migrate.PhaseCopy, Percent: 40, ETA: -1, PhaseETA: -1, Paused: true}, []string{"paused by the operator"}, []string{"ETA paused"}},
		{"checksum", migrate.Status{Phase: migrate.PhaseChecksum, RowsCopied: 1200, RowsEstimate: 1000, Percent: 100, ETA: -1,
			PhasePercent: 25, PhaseETA: 9 * time.Second, PhaseProgress: "1 of ~4 chunks checked, 300 of ~1200 rows"},
			nil, []string{"checksum", "[######..................]", " 25.0%", "1 of ~4 chunks checked", "ETA 9s"}},
		{"build-indexes", migrate.Status{Phase: migrate.PhaseBuildIndexes, Percent: 100, ETA: -1,
			PhasePercent: 50, PhaseETA: 4 * time.Second, PhaseProgress: "the server reports 50.0%, stage 1 of 2"},
			nil, []string{"build-indexes", " 50.0%", "stage 1 of 2", "ETA 4s"}},
		{"build-indexes without progress", migrate.Status{Phase: migrate.PhaseBuildIndexes, Percent: 100, ETA: -1, PhaseETA: -1,
			PhaseProgress: "building for 3s, the server reports no progress"},
			nil, []string{"build-indexes", "[........................]     ?%", "building for 3s", "ETA ?"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			line := renderBar(c.st, c.throttled)
			for _, w := range c.want {
				if !strings.Contains(line, w) {
					t.Errorf("%q lacks %q", line, w)
				}
			}
			if strings.Contains(line, "\n") {
				t.Errorf("the bar spans lines: %q", line)
			}
		})
	}
}

// TestProgressBarKeepsLogLinesAbove: a log line written while the bar is
// drawn clears the bar, is written whole, and the bar is drawn again below.
func TestProgressBarKeepsLogLinesAbove(t *testing.T) {
	var out strings.Builder
	b := &progressBar{out: &out}
	b.draw("BAR")
	if _, err := b.Write([]byte("log line\n")); err != nil {
		t.Fatal(err)
	}
	b.clear()
	want := "\r\033[KBAR" + "\r\033[K" + "log line\n" + "BAR" + "\r\033[K"
	if out.String() != want {
		t.Errorf("wrote %q, want %q", out.String(), want)
	}
}

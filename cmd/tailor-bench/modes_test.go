package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/migrate"
)

func TestGTIDSeq(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"": 0, "0-1-4711": 4711, " 1-3-12,0-1-99 ": 99, "1-3-12": 0} {
		if got, err := gtidSeq(in); err != nil || got != want {
			t.Errorf("gtidSeq(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"0-1", "0-1-x"} {
		if _, err := gtidSeq(bad); err == nil {
			t.Errorf("gtidSeq(%q) accepted it", bad)
		}
	}
}

func TestLagAt(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 12, 6, 17, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	history := []posSample{{at(0), 10}, {at(25), 12}, {at(50), 20}, {at(75), 21}}
	for _, tc := range []struct {
		now     int
		replica int64
		want    time.Duration
	}{
		{now: 100, replica: 21, want: 0},                        // has everything
		{now: 100, replica: 30, want: 0},                        // ahead of the last sample
		{now: 100, replica: 20, want: 25 * time.Millisecond},    // owes 21, first seen at 75
		{now: 100, replica: 12, want: 50 * time.Millisecond},    // owes 13..20, first seen at 50
		{now: 100, replica: 11, want: 75 * time.Millisecond},    // owes 12, first seen at 25
		{now: 100, replica: 3, want: 100 * time.Millisecond},    // owes all since the start
		{now: -10, replica: 3, want: 0},                         // a clock step back is not negative lag
		{now: 5000, replica: 19, want: 4950 * time.Millisecond}, // one long statement replayed
	} {
		if got := lagAt(history, at(tc.now), tc.replica); got != tc.want {
			t.Errorf("lagAt(now %d ms, replica at %d) = %v, want %v", tc.now, tc.replica, got, tc.want)
		}
	}
	if got := lagAt(nil, at(0), 5); got != 0 {
		t.Errorf("lagAt with no history = %v", got)
	}
}

func TestReplicaLagLabel(t *testing.T) {
	t.Parallel()
	for l, want := range map[*ReplicaLag]string{
		nil:                             "-",
		{PeakMs: 2750, CaughtUpMs: 300}: "2750ms",
		{PeakMs: 12.5, CaughtUpMs: -1}:  "12.5ms (not caught up)",
	} {
		if got := replicaLagLabel(l); got != want {
			t.Errorf("replicaLagLabel(%+v) = %q, want %q", l, got, want)
		}
	}
}

func TestServerSettings(t *testing.T) {
	t.Parallel()
	s := ServerSettings{Version: "10.11.19-MariaDB", InnodbFlushLogAtTrxCommit: 1, SyncBinlog: 1, InnodbBufferPoolBytes: 2 << 30, InnodbLogFileBytes: 1 << 30, BinlogFormat: "ROW"}
	want := "innodb_flush_log_at_trx_commit=1, sync_binlog=1, innodb_buffer_pool_size=2G, innodb_log_file_size=1G, binlog_format=ROW, version 10.11.19-MariaDB"
	if got := s.String(); got != want || !s.Durable() {
		t.Errorf("String() = %q, Durable() = %v; want %q, true", got, s.Durable(), want)
	}
	s.SyncBinlog = 0
	if s.Durable() {
		t.Error("sync_binlog=0 is durable")
	}
	for b, want := range map[int64]string{96 << 20: "96M", 1536 << 20: "1536M", 5000: "5000", 8 << 10: "8K"} {
		if got := sizeLabel(b); got != want {
			t.Errorf("sizeLabel(%d) = %q, want %q", b, got, want)
		}
	}
	args := strings.Join(sandboxArgs("2G"), " ")
	for _, want := range []string{"--innodb-flush-log-at-trx-commit=1", "--sync-binlog=1", "--innodb-buffer-pool-size=2G", "--innodb-log-file-size=1G"} {
		if !strings.Contains(args, want) {
			t.Errorf("sandboxArgs = %s, missing %s", args, want)
		}
	}
}

func TestMaxCommitLatency(t *testing.T) {
	t.Parallel()
	if got := maxCommitLatencyConfig(0); got != migrate.NoMaxCommitLatency {
		t.Errorf("0 = %v, want no limit", got)
	}
	if got := maxCommitLatencyConfig(20 * time.Millisecond); got != 20*time.Millisecond {
		t.Errorf("20ms = %v", got)
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0 (no limit)"},
		{migrate.DefaultMaxCommitLatency, migrate.DefaultMaxCommitLatency.String() + " (tailor's default)"},
		{migrate.DefaultMaxCommitLatency + 7*time.Millisecond, (migrate.DefaultMaxCommitLatency + 7*time.Millisecond).String()},
	} {
		if got := maxCommitLatencyLabel(tc.d); got != tc.want {
			t.Errorf("maxCommitLatencyLabel(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestChecksumLabel(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		skip, during bool
		want         string
	}{
		{false, false, "after the copy (tailor's default)"},
		{false, true, "mostly during the copy (--checksum-during-copy)"},
		{true, false, "skipped (--skip-checksum)"},
	} {
		if got := checksumLabel(tc.skip, tc.during); got != tc.want {
			t.Errorf("checksumLabel(%v, %v) = %q, want %q", tc.skip, tc.during, got, tc.want)
		}
	}
}

func TestParseFlagsModes(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"--sweep", "--sweep-percent", "30, 90%", "--tailor-max-commit-latency", "20ms", "--replica"}, io.Discard)
	if err != nil || !o.sweep || !o.replica || o.maxCommitLatency != 20*time.Millisecond || len(o.sweepPercents) != 2 || o.sweepPercents[1] != 90 {
		t.Errorf("parseFlags = %+v, %v", o, err)
	}
	if o, err := parseFlags(nil, io.Discard); err != nil || o.maxCommitLatency != migrate.DefaultMaxCommitLatency || o.sweepTimeout != 10*time.Minute || len(o.sweepPercents) != 2 {
		t.Errorf("defaults = %+v, %v", o, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--replica", "--host", "db1"}, "--replica"},
		{[]string{"--replica", "--port", "3307"}, "--replica"},
		{[]string{"--sweep", "--mode", "backfill"}, "--sweep"},
		{[]string{"--sweep-percent", "0"}, "--sweep-percent"},
		{[]string{"--sweep-percent", "120"}, "--sweep-percent"},
		{[]string{"--sweep-percent", ","}, "--sweep-percent"},
		{[]string{"--sweep-timeout", "0s"}, "--sweep-timeout"},
		{[]string{"--tailor-max-commit-latency", "-1ms"}, "--tailor-max-commit-latency"},
		{[]string{"--key", "uuid"}, "--key"},
		{[]string{"--key", "text", "--mode", "backfill"}, "--key"},
	} {
		if _, err := parseFlags(tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) error = %v, want one about %s", tc.args, err, tc.want)
		}
	}
}

func TestApplierWatch(t *testing.T) {
	t.Parallel()
	var w applierWatch
	if w.stats(0) != nil {
		t.Error("stats before any change stream are not nil")
	}
	t0 := time.Date(2026, 12, 6, 17, 0, 0, 0, time.UTC)
	w.observe(t0, 0, 0, -1) // no stream yet: ignored
	w.observe(t0.Add(time.Second), 5, 0, 10*time.Millisecond)
	w.observe(t0.Add(2*time.Second), 40, 300, 80*time.Millisecond)
	w.observe(t0.Add(3*time.Second), 2, 900, 5*time.Millisecond)
	s := w.stats(1000)
	want := ApplierStats{Events: 1000, Seconds: 2, PerSecond: 500, BacklogPeak: 40, LagPeakMs: 80, BacklogLast: 2}
	if *s != want {
		t.Errorf("stats = %+v, want %+v", *s, want)
	}
	if s := w.stats(0); s.Events != 900 {
		t.Errorf("stats without the result's count: events %d, want the last status's 900", s.Events)
	}
}

func TestSweepRows(t *testing.T) {
	t.Parallel()
	yes := true
	if got := sweepRate(1795, 80); got != 1436 {
		t.Errorf("sweepRate = %d", got)
	}
	if got := sweepRate(0.5, 50); got != 1 {
		t.Errorf("sweepRate of nothing = %d, want 1", got)
	}
	runs := []Run{
		{Kind: kindCapacity, Repeat: 1, Status: statusOK, LoadRate: sweepMaxRate, WallSeconds: 3, LoadTransactions: 6000, LoadTPS: 2000, LoadP99Ms: 20, Equal: &yes},
		{Kind: kindBaseline, Repeat: 1, Status: statusOK, LoadRate: 1600, WallSeconds: 3, LoadTransactions: 4800, LoadTPS: 1600, LoadP99Ms: 4, Equal: &yes},
		{Kind: kindTailor, Repeat: 1, Status: statusOK, LoadRate: 1600, WallSeconds: 9, LoadTransactions: 14400, LoadTPS: 1600, LoadP50Ms: 2, LoadP99Ms: 10, LoadMaxMs: 60, Equal: &yes, CutOverLockMs: 4,
			Applier: &ApplierStats{Events: 12000, PerSecond: 1500, BacklogPeak: 300, LagPeakMs: 250}},
		{Kind: kindTailor, Repeat: 1, Status: statusTimeout, LoadRate: 1600, WallSeconds: 600, Note: "did not finish within 10m0s", Equal: &yes},
	}
	rows := sweepRows(runs, 2000, false)
	want := [][]string{
		{"capacity", "unpaced", "100%", "1", "3.00s", "-", "-", "-", "-", "-", "0.0ms", "20.0ms", "-", "0.0ms", "2000", "0", "yes", ""},
		{"baseline", "1600/s", "80%", "1", "3.00s", "-", "-", "-", "-", "-", "0.0ms", "4.0ms", "-", "0.0ms", "1600", "0", "yes", ""},
		{"tailor", "1600/s", "80%", "1", "9.00s", "yes", "12000", "1500", "300", "250ms", "2.0ms", "10.0ms", "2.50", "60.0ms", "1600", "0", "yes", "cut-over 4.0ms"},
		{"tailor", "1600/s", "80%", "1", "600.00s", "NO: timeout", "-", "-", "-", "-", "-", "-", "-", "-", "0", "0", "yes", "did not finish within 10m0s"},
	}
	for i := range want {
		if strings.Join(rows[i], "|") != strings.Join(want[i], "|") {
			t.Errorf("row %d = %q\nwant     %q", i, rows[i], want[i])
		}
		if len(rows[i]) != len(sweepHeader(false)) {
			t.Errorf("row %d has %d cells, the header %d", i, len(rows[i]), len(sweepHeader(false)))
		}
	}
	if rows := sweepRows(runs, 2000, true); len(rows[0]) != len(sweepHeader(true)) || rows[0][len(rows[0])-2] != "-" {
		t.Errorf("with the replica column: %q", rows[0])
	}
}

func TestRunRowsReplica(t *testing.T) {
	t.Parallel()
	runs := []Run{
		{Kind: kindNativeCopy, Repeat: 1, Status: statusOK, WallSeconds: 3, ReplicaLag: &ReplicaLag{PeakMs: 3100, CaughtUpMs: 3050}, Note: "n"},
		{Kind: kindNativeInplace, Repeat: 1, Status: statusRefused, Note: "x"},
	}
	if hasReplicaLag(runs[1:]) || !hasReplicaLag(runs) {
		t.Error("hasReplicaLag")
	}
	rows := runRows(runs, true)
	h := runHeader(true)
	if h[len(h)-2] != "replica lag" {
		t.Errorf("header = %q", h)
	}
	for i, r := range rows {
		if len(r) != len(h) {
			t.Errorf("row %d has %d cells, the header %d: %q", i, len(r), len(h), r)
		}
	}
	if rows[0][len(h)-2] != "3100ms" || rows[0][len(h)-1] != "n" || rows[1][len(h)-2] != "-" {
		t.Errorf("rows = %q", rows)
	}
}

func TestReplicaLagColumn(t *testing.T) {
	t.Parallel()
	h, rows := replicaLagColumn([]string{"run", "wall", "note"}, [][]string{{"baseline", "10.00s", ""}, {"tailor-backfill", "2.00s", "n"}},
		[]Run{{}, {ReplicaLag: &ReplicaLag{PeakMs: 425, CaughtUpMs: 369}}})
	if strings.Join(h, "|") != "run|wall|replica lag|note" || strings.Join(rows[0], "|") != "baseline|10.00s|-|" || strings.Join(rows[1], "|") != "tailor-backfill|2.00s|425ms|n" {
		t.Errorf("replicaLagColumn = %q, %q", h, rows)
	}
}

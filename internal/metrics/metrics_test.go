package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// scrape serves reg the way the control server does and returns the text
// exposition.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return string(body)
}

func exercise(m *Metrics) {
	m.Start("shop", "orders", time.Unix(1700000000, 0))
	m.SetPhase("copy")
	m.SetRowsEstimate(1000)
	m.ObserveChunk(100, 40*time.Millisecond)
	m.ObserveChunk(50, 20*time.Millisecond)
	m.SetRowsCopiedBefore(400)
	m.SetChunkSize(100)
	m.AddEventsApplied(7)
	m.SetBacklog(3)
	m.SetReplicaLag("replica1:3306", 1500*time.Millisecond)
	m.SetThrottled(true)
	m.AddThrottled("replica-lag", 2*time.Second)
	m.SetCommitLatency(12500 * time.Microsecond)
	m.SetCopyWorkers(2)
	m.SetChecksumWorkers(1)
	m.CutOverAttempt()
	m.ObserveCutOverLock(120 * time.Millisecond)
	m.SetCutOverPostponed(true)
	m.AddRetry("copy")
}

func TestScrapeHasEveryMetric(t *testing.T) {
	t.Parallel()
	m := New()
	exercise(m)
	body := scrape(t, m)
	for _, name := range Names() {
		if !strings.Contains(body, "# HELP "+name+" ") {
			t.Errorf("scrape lacks %s (with help)", name)
		}
	}
	for _, want := range []string{
		`tailor_migration_info{database="shop",table="orders"} 1`,
		`tailor_phase{phase="copy"} 1`,
		`tailor_rows_copied_total 150`,
		`tailor_rows_copied_before_resume 400`,
		`tailor_rows_estimate 1000`,
		`tailor_events_applied_total 7`,
		`tailor_backlog_events 3`,
		`tailor_replica_lag_seconds{replica="replica1:3306"} 1.5`,
		`tailor_throttled 1`,
		`tailor_throttled_seconds_total{reason="replica-lag"} 2`,
		`tailor_commit_latency_seconds 0.0125`,
		`tailor_copy_workers 2`,
		`tailor_checksum_workers 1`,
		`tailor_chunk_duration_seconds_count 2`,
		`tailor_chunk_size_rows 100`,
		`tailor_cutover_attempts_total 1`,
		`tailor_cutover_lock_seconds_count 1`,
		`tailor_cutover_postponed 1`,
		`tailor_retries_total{what="copy"} 1`,
		`tailor_start_time_seconds 1.7e+09`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want+"\n") && !strings.Contains(body, want+" ") && !strings.Contains(body, want+"{") {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestSetPhaseLeavesOneCurrent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		phases []string
		want   []string
	}{
		{"one", []string{"copy"}, []string{`tailor_phase{phase="copy"} 1`}},
		{"moves on", []string{"copy", "cut-over"}, []string{`tailor_phase{phase="copy"} 0`, `tailor_phase{phase="cut-over"} 1`}},
		{"same twice", []string{"copy", "copy"}, []string{`tailor_phase{phase="copy"} 1`}},
		{"back again", []string{"copy", "checksum", "copy"}, []string{`tailor_phase{phase="checksum"} 0`, `tailor_phase{phase="copy"} 1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := New()
			for _, p := range tt.phases {
				m.SetPhase(p)
			}
			body := scrape(t, m)
			for _, w := range tt.want {
				if !strings.Contains(body, w+"\n") {
					t.Errorf("scrape lacks %q", w)
				}
			}
		})
	}
}

func TestRegistriesAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := New(), New()
	a.ObserveChunk(10, time.Millisecond)
	if body := scrape(t, b); !strings.Contains(body, "tailor_rows_copied_total 0\n") {
		t.Error("a chunk observed on one Metrics shows on another")
	}
}

func TestNilMetricsIsNoOp(t *testing.T) {
	t.Parallel()
	var m *Metrics
	exercise(m) // must not panic
	if m.Registry() != nil {
		t.Error("nil Metrics has a registry")
	}
}

func TestBadInputIgnored(t *testing.T) {
	t.Parallel()
	m := New()
	m.ObserveChunk(-1, time.Second)          // a counter would panic on a negative add
	m.AddEventsApplied(-5)                   // likewise
	m.AddThrottled("max-load", -time.Second) // likewise
	body := scrape(t, m)
	for _, w := range []string{"tailor_rows_copied_total 0\n", "tailor_events_applied_total 0\n", "tailor_chunk_duration_seconds_count 0\n"} {
		if !strings.Contains(body, w) {
			t.Errorf("scrape lacks %q", w)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	m := New()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				m.ObserveChunk(1, time.Millisecond)
				m.SetPhase([]string{"copy", "checksum"}[i%2])
			}
		})
	}
	wg.Wait()
	body := scrape(t, m)
	if !strings.Contains(body, "tailor_rows_copied_total 800\n") {
		t.Error("lost chunk observations under concurrency")
	}
	if strings.Count(body, `tailor_phase{phase="copy"} 1`)+strings.Count(body, `tailor_phase{phase="checksum"} 1`) != 1 {
		t.Errorf("not exactly one current phase:\n%s", body)
	}
}

// TestDocsListEveryMetric keeps the table in docs/operating.md true.
func TestDocsListEveryMetric(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/operating.md")
	if err != nil {
		t.Fatalf("read docs: %v", err)
	}
	for _, name := range Names() {
		if !strings.Contains(string(doc), "| `"+name+"`") {
			t.Errorf("docs/operating.md has no table row for %s", name)
		}
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/tailor-osc/tailor/internal/backfill"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/operate"
)

// progressBar draws a migration's progress on the last line of a terminal,
// redrawn in place, while log lines scroll above it: every log write first
// clears the bar and then draws it again below the new line.
type progressBar struct {
	mu   sync.Mutex
	out  io.Writer
	line string
}

// isTerminal reports whether w is a terminal, where a bar can be redrawn.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Write writes a log line above the bar.
func (b *progressBar) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.line != "" {
		fmt.Fprint(b.out, "\r\033[K")
	}
	n, err := b.out.Write(p)
	if b.line != "" {
		fmt.Fprint(b.out, b.line)
	}
	return n, err
}

func (b *progressBar) draw(line string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.line = line
	fmt.Fprint(b.out, "\r\033[K"+line)
}

// clear removes the bar, leaving the cursor at the start of an empty line.
func (b *progressBar) clear() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.line != "" {
		fmt.Fprint(b.out, "\r\033[K")
		b.line = ""
	}
}

// follow redraws the bar with line's until ctx ends; an empty line (a
// phase before the copy) draws nothing.
func (b *progressBar) follow(ctx context.Context, line func() string) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			b.clear()
			return
		case <-tick.C:
		}
		if l := line(); l != "" {
			b.draw(l)
		}
	}
}

// migrationBar is the bar of a migration: from its copy on.
func migrationBar(r *migrate.Runner) func() string {
	return func() string {
		st := r.Status()
		if st.Phase < migrate.PhaseCopy {
			return ""
		}
		return renderBar(st, r.ThrottleReasons())
	}
}

// backfillBar is the bar of a backfill, once its batches run.
func backfillBar(r *backfill.Runner) func() string {
	return func() string {
		st := r.Status()
		if st.Phase != "backfill" {
			return ""
		}
		const width = 24
		filled := min(max(int(st.Percent/100*width), 0), width)
		eta := operate.ETALabel(st.ETA, st.Paused, "?")
		done := st.RowsWalked + st.RowsWalkedBefore
		line := fmt.Sprintf("backfill [%s%s] %5.1f%%  %d/%d rows walked, %d changed  %d rows/s  ETA %s",
			strings.Repeat("#", filled), strings.Repeat(".", width-filled), st.Percent,
			done, max(st.RowsEstimate, done), st.RowsChanged+st.RowsChangedBefore, int64(st.RowsPerSecond), eta)
		if len(st.Throttled) > 0 {
			line += "  throttled: " + strings.Join(st.Throttled, "; ")
		}
		return line
	}
}

// renderBar is one line: phase, bar, percent, rows, rate, ETA, backlog and
// what throttles the copy, if anything. The build-indexes and checksum
// phases show their own progress and ETA (migrate.Status.PhasePercent)
// instead of the finished copy's.
func renderBar(st migrate.Status, throttled []string) string {
	const width = 24
	percent, eta := st.Percent, st.ETA
	own := st.PhaseProgress != ""
	if own {
		percent, eta = st.PhasePercent, st.PhaseETA
	}
	filled := int(percent / 100 * width)
	filled = min(max(filled, 0), width)
	// A pause holds only the copy (reportProgress).
	etaText := operate.ETALabel(eta, st.Paused && eta < 0, "?")
	var what string
	if own {
		what = st.PhaseProgress
	} else {
		// A resumed run's rows count from where the earlier runs
		// stopped, as its percentage does.
		done := st.RowsCopied + st.RowsCopiedBefore
		what = fmt.Sprintf("%d/%d rows  %d rows/s", done, max(st.RowsEstimate, done), int64(st.RowsPerSecond))
	}
	percentText := fmt.Sprintf("%5.1f%%", percent)
	if own && percent <= 0 && eta < 0 {
		percentText = "    ?%" // a phase that reports no progress
	}
	line := fmt.Sprintf("%-9s [%s%s] %s  %s  ETA %s  backlog %d",
		st.Phase, strings.Repeat("#", filled), strings.Repeat(".", width-filled), percentText,
		what, etaText, st.Backlog)
	switch {
	case st.Postponed:
		line += "  cut-over postponed"
	case len(throttled) > 0:
		line += "  throttled: " + strings.Join(throttled, "; ")
	}
	return line
}

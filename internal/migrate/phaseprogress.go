package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/tailor-osc/tailor/internal/operate"
)

// phaseProgress is what the build-indexes and checksum phases have done,
// for the status: their own progress and ETA rather than the copy's.
// Written by those phases' goroutines, read by Status.
type phaseProgress struct {
	// started is when the phase began, in Unix nanoseconds.
	started atomic.Int64
	// The checksum's chunks and the original's rows checked so far, the
	// rows it is expected to check (the rows copied) and its chunk size.
	checkedChunks, checkedRows atomic.Int64
	checkRows, checkChunkSize  atomic.Int64
	// The index build's progress as the server reports it, in
	// thousandths of the whole build (-1 while unknown), and the server's
	// stage, "stage 1 of 2" ("" when it reports none).
	indexPermille atomic.Int64
	indexStage    atomic.Pointer[string]
}

// start records the phase's start and clears what an earlier phase left.
func (p *phaseProgress) start(now time.Time) {
	p.started.Store(now.UnixNano())
	p.checkedChunks.Store(0)
	p.checkedRows.Store(0)
	p.indexPermille.Store(-1)
	p.indexStage.Store(nil)
}

// checked records the checksum's progress; the reports of concurrent
// checkers may arrive out of order, so it only moves forward.
func (p *phaseProgress) checked(chunks int, rows int64) {
	storeMax(&p.checkedChunks, int64(chunks))
	storeMax(&p.checkedRows, rows)
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// describe fills in st's PhasePercent, PhaseETA and PhaseProgress for the
// build-indexes and checksum phases, at now. An index build the server
// reports no progress for shows its time so far, with percent 0 and no
// ETA: a guess from the copy's pace would be a number without a basis.
func (p *phaseProgress) describe(st *Status, now time.Time) {
	started := p.started.Load()
	if started == 0 {
		return
	}
	elapsed := now.Sub(time.Unix(0, started))
	switch st.Phase {
	case PhaseChecksum:
		rows, chunks := p.checkedRows.Load(), p.checkedChunks.Load()
		total := max(p.checkRows.Load(), rows)
		totalChunks := chunks
		if size := p.checkChunkSize.Load(); size > 0 {
			totalChunks = max(chunks, (total+size-1)/size)
		}
		st.PhaseProgress = fmt.Sprintf("%d of ~%d chunks checked, %d of ~%d rows", chunks, totalChunks, rows, total)
		if total > 0 {
			st.PhasePercent = 100 * float64(rows) / float64(total)
			st.PhaseETA = etaFrom(elapsed, st.PhasePercent)
		}
	case PhaseBuildIndexes:
		permille := p.indexPermille.Load()
		if permille < 0 {
			// MariaDB 10.11 reports none for InnoDB's in-place ADD INDEX
			// (STAGE and MAX_STAGE stay 0), MySQL none at all.
			st.PhaseProgress = fmt.Sprintf("building for %s, the server reports no progress", elapsed.Round(time.Second))
			return
		}
		st.PhasePercent = float64(permille) / 10
		st.PhaseETA = etaFrom(elapsed, st.PhasePercent)
		st.PhaseProgress = "the server reports " + fmt.Sprintf("%.1f%%", st.PhasePercent)
		if stage := p.indexStage.Load(); stage != nil && *stage != "" {
			st.PhaseProgress += ", " + *stage
		}
	}
}

// etaFrom extrapolates the time left from the time spent on percent of
// the work; -1 until there is something to extrapolate from.
func etaFrom(elapsed time.Duration, percent float64) time.Duration {
	if percent <= 0 || percent >= 100 || elapsed <= 0 {
		if percent >= 100 {
			return 0
		}
		return -1
	}
	return time.Duration(float64(elapsed) * (100 - percent) / percent)
}

// indexProgressSQL reads the progress of session ? (MariaDB).
const indexProgressSQL = "SELECT STAGE, MAX_STAGE, PROGRESS FROM information_schema.PROCESSLIST WHERE ID = ?"

// indexProgressInterval is how often the index build's progress is read
// from the server while it runs.
const indexProgressInterval = 500 * time.Millisecond

// watchIndexBuild reads, until ctx ends, the progress MariaDB reports for
// the ALTER that session id runs: information_schema.PROCESSLIST's
// PROGRESS is the percentage of the current STAGE of MAX_STAGE (an ALTER
// that builds indexes in place has one or two stages), so the whole is
// ((STAGE-1) + PROGRESS/100) / MAX_STAGE. A failed read leaves the
// progress unknown; the build goes on regardless.
func (r *Runner) watchIndexBuild(ctx context.Context, id int64) {
	if !r.server.ReportsAlterProgress() {
		return
	}
	operate.Every(ctx, indexProgressInterval, func(ctx context.Context) {
		var stage, maxStage sql.NullInt64
		var progress sql.NullFloat64
		err := r.db.QueryRowContext(ctx, indexProgressSQL, id).Scan(&stage, &maxStage, &progress)
		if err != nil || !maxStage.Valid || maxStage.Int64 <= 0 || !stage.Valid || !progress.Valid {
			return
		}
		done := (float64(max(stage.Int64, 1)-1) + progress.Float64/100) / float64(maxStage.Int64)
		storeMax(&r.progress.steps.indexPermille, int64(math.Round(1000*min(max(done, 0), 1))))
		text := fmt.Sprintf("stage %d of %d", max(stage.Int64, 1), maxStage.Int64)
		r.progress.steps.indexStage.Store(&text)
	})
}

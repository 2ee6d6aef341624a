package migrate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// The bounds of the statistics refresh before the cut-over. It is an
// optimisation, so it must never hold the migration up for long: it waits
// at most analyzeLockWait for the shadow's metadata lock (which a session
// that write-locked the shadow, or DDL on it, would keep; on MariaDB 10.11
// it shares the lock with readers and the applier, TestAnalyzeBounded), and
// the server ends the whole statement after
// analyzeBound (MariaDB's max_statement_time; on MySQL only the lock wait
// and the client's kill bound it).
const (
	analyzeLockWait = 2 * time.Second
	analyzeBound    = 30 * time.Second
)

// analyzeShadow refreshes the shadow's index statistics before the swap.
// InnoDB computed them when the shadow was nearly empty and recomputes them
// in the background only after a tenth of the rows changed, at most every
// ten seconds, and not at all for a table with STATS_AUTO_RECALC=0: right
// after the swap the optimizer could see a table of a few rows and choose
// full scans (gh-ost and Spirit run ANALYZE TABLE for the same reason). A
// failure is logged and the cut-over goes on.
//
// The statement is written to the binary log (no NO_WRITE_TO_BINLOG):
// every replica built its copy of the shadow from the same row events and
// has the same stale statistics, and the RENAME will swap that copy in on
// the replica too. ANALYZE TABLE on InnoDB samples a few pages per index
// (innodb_stats_persistent_sample_pages) rather than reading the table, so
// it costs a replica's SQL thread a moment, and it locks only the shadow,
// which nothing on the replica reads.
func (r *Runner) analyzeShadow(ctx context.Context) {
	started := time.Now()
	err := r.runAnalyze(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("could not refresh the new table's statistics; cutting over without", "phase", PhaseCutOver.String(), "shadow", r.shadow, "err", err)
		return
	}
	var rows int64
	_ = r.db.QueryRowContext(ctx, "SELECT COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", r.cfg.Database, r.shadow).Scan(&rows)
	r.log.Info("refreshed the new table's statistics", "phase", PhaseCutOver.String(), "shadow", r.shadow, "rows_estimate", rows, "elapsed", time.Since(started).Round(time.Millisecond).String())
}

func (r *Runner) runAnalyze(ctx context.Context) error {
	sess, err := mysql.OpenSession(ctx, r.db, analyzeBound+5*time.Second)
	if err != nil {
		return err
	}
	defer sess.Close()
	if err := sess.Exec(ctx, "SET SESSION lock_wait_timeout = "+strconv.Itoa(int(analyzeLockWait.Seconds()))); err != nil {
		return err
	}
	rows, err := sess.Query(ctx, r.server.BoundStatement("ANALYZE TABLE "+mysql.QuoteTable(r.cfg.Database, r.shadow), analyzeBound))
	if err != nil {
		return err
	}
	return analyzeOutcome(rows)
}

// analyzeOutcome reads ANALYZE TABLE's report (Table, Op, Msg_type,
// Msg_text rows). The server reports a failure there, not as an error: a
// lock wait timeout is a row of type "error" and a final "status"
// "Operation failed".
func analyzeOutcome(rows [][]string) error {
	var errs, statuses []string
	ok := false
	for _, row := range rows {
		if len(row) < 4 {
			continue
		}
		switch strings.ToLower(row[2]) {
		case "error":
			errs = append(errs, row[3])
		case "status":
			// MariaDB may say "Engine-independent statistics
			// collected" before the engine's "OK".
			statuses = append(statuses, row[3])
			ok = ok || row[3] == "OK" || strings.Contains(row[3], "up to date")
		}
	}
	switch {
	case len(errs) > 0:
		return errors.New(strings.Join(errs, "; "))
	case !ok && len(statuses) > 0:
		return errors.New(strings.Join(statuses, "; "))
	case !ok:
		return fmt.Errorf("ANALYZE TABLE reported no status (%d rows)", len(rows))
	}
	return nil
}

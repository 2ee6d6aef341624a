package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/cutover"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/state"
	"github.com/tailor-osc/tailor/internal/throttle"
	"github.com/tailor-osc/tailor/internal/verify"
)

// saved is the run's saved state: the one record (package state) that the
// phases move forward and that a resume starts from. The runner's live
// progress (the copy's watermark, the applier's position) is written into
// it by each checkpoint.
type saved struct {
	store *state.Store
	mu    sync.Mutex
	// rec is this run's record once it exists (nil before the shadow is
	// made, and for a dry run); earlier is the record a resume started
	// from, nil for a new migration.
	rec, earlier *state.Record
	// drop is set when --initially-drop-ghost-table is to drop an earlier
	// run's state before this run makes its own.
	drop bool
	// rowsBefore are the rows earlier runs copied.
	rowsBefore int64
	// changed wakes the checkpoint loop at a phase change.
	changed chan struct{}
}

// Version is the version of this tailor, as the saved state records it:
// the module version the binary was built as, with the VCS revision when
// the build recorded one.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	return v
}

// loadSavedState reads the state an earlier run left, if any, and decides
// what this run does with it: resume it (--resume), drop it once the run
// starts (--initially-drop-ghost-table), or refuse to start. It only
// reads: a dry run or a refused run leaves an earlier run's state as it is.
func (r *Runner) loadSavedState(ctx context.Context) error {
	store, err := state.New(r.db, r.cfg.Database, r.cfg.Table)
	if err != nil {
		return invalid(err)
	}
	r.saved.store = store
	rec, err := store.Load(ctx)
	var formatErr *state.FormatError
	switch {
	case errors.As(err, &formatErr) && r.cfg.InitiallyDropGhostTable:
		r.saved.drop = true
		return nil
	case errors.As(err, &formatErr):
		return invalid(fmt.Errorf("%w: finish that migration with the tailor that wrote it, or start over with --initially-drop-ghost-table", err))
	case errors.Is(err, state.ErrNotState):
		return invalid(fmt.Errorf("a table named %s exists and is not a tailor state table, and tailor needs that name to save the migration's state; rename or drop it", mysql.QuoteIdent(store.Name())))
	case err != nil:
		return fmt.Errorf("read the saved state: %w", err)
	}
	switch {
	case rec == nil && r.cfg.Resume:
		return invalid(fmt.Errorf("there is no saved migration of %s to resume (no table %s); run without --resume to start one", mysql.QuoteIdent(r.cfg.Table), mysql.QuoteIdent(store.Name())))
	case rec == nil:
		return nil
	case rec.Reverting && r.cfg.InitiallyDropGhostTable:
		// Given up: the saved state goes, the kept table stays (it is
		// the user's table as it was, and tailor never drops it).
		r.saved.drop = true
		return nil
	case rec.Reverting:
		return invalid(fmt.Errorf("a revert of the last migration of %s stopped during %s at %s; run tailor revert to continue it, or give it up with --initially-drop-ghost-table (which keeps %s)", mysql.QuoteIdent(r.cfg.Table), rec.Phase, rec.UpdatedAt.Format(time.DateTime+" MST"), mysql.QuoteIdent(rec.Shadow)))
	case rec.Phase == revertable && r.cfg.Resume:
		return invalid(fmt.Errorf("the last migration of %s (%q) finished; there is nothing to resume", mysql.QuoteIdent(r.cfg.Table), rec.Alter))
	case rec.Phase == revertable:
		// What a revert of the last migration needed; a new migration
		// ends that, once the table it kept is gone.
		if kept, err := r.tableExists(ctx, rec.Shadow); err != nil {
			return err
		} else if kept {
			return invalid(fmt.Errorf("the last migration of %s kept %s, which tailor revert swaps back in; drop it (or revert) before a new migration", mysql.QuoteIdent(r.cfg.Table), mysql.QuoteIdent(rec.Shadow)))
		}
		r.saved.drop = true
		return nil
	case r.cfg.Resume:
		if err := r.checkResumable(ctx, rec); err != nil {
			return err
		}
		r.saved.earlier = rec
		return nil
	case r.cfg.InitiallyDropGhostTable:
		r.saved.drop = true
		return nil
	}
	return invalid(fmt.Errorf("%s; run the same command with --resume to continue it, or with --initially-drop-ghost-table to drop it and start over", describeSaved(rec)))
}

// describeSaved says which migration rec is, how far it got and when.
func describeSaved(rec *state.Record) string {
	how := fmt.Sprintf("%d rows copied", rec.RowsCopied)
	switch {
	case rec.ChecksumPassed:
		how = "the copy done and checked"
	case rec.CopyDone:
		how = fmt.Sprintf("the copy done (%d rows)", rec.RowsCopied)
	}
	return fmt.Sprintf("an earlier migration of %s (%q, run %s, started %s) stopped during %s at %s with %s",
		mysql.QuoteIdent(rec.Table), rec.Alter, rec.RunID, rec.StartedAt.Format(time.DateTime+" MST"),
		rec.Phase, rec.UpdatedAt.Format(time.DateTime+" MST"), how)
}

// checkResumable refuses a resume that could not give the table the
// saved migration would have: another change, a shadow that is not the
// saved one, or a binary log that no longer holds the changes to apply.
func (r *Runner) checkResumable(ctx context.Context, rec *state.Record) error {
	if normalizeClauses(rec.Alter) != normalizeClauses(r.alter.Clauses) {
		return invalid(fmt.Errorf("the saved migration of %s makes another change (%q); give the same --alter to resume it, or start over with --initially-drop-ghost-table", mysql.QuoteIdent(r.cfg.Table), rec.Alter))
	}
	if r.cfg.TimeZone != "" && !schema.SameZone(r.cfg.TimeZone, rec.TimeZone) {
		return invalid(fmt.Errorf("the saved migration of %s converts values between a TIMESTAMP and another type in the time zone %s, and --time-zone gives %s; resume without --time-zone (or with the saved zone), or start over with --initially-drop-ghost-table", mysql.QuoteIdent(r.cfg.Table), mysql.QuoteString(rec.TimeZone), mysql.QuoteString(r.cfg.TimeZone)))
	}
	if rec.Shadow != r.shadow {
		return invalid(fmt.Errorf("the saved migration of %s copies into %s, and this tailor names the shadow %s; finish it with the tailor that started it, or start over with --initially-drop-ghost-table", mysql.QuoteIdent(r.cfg.Table), mysql.QuoteIdent(rec.Shadow), mysql.QuoteIdent(r.shadow)))
	}
	exists, err := r.tableExists(ctx, r.shadow)
	if err != nil {
		return err
	}
	if !exists {
		if old, err := r.tableExists(ctx, r.old); err == nil && old {
			return invalid(fmt.Errorf("the saved migration of %s has no shadow table left, and %s exists: the earlier run swapped the tables at its cut-over before it stopped, so there is nothing to resume; check the table, then drop %s", mysql.QuoteIdent(r.cfg.Table), mysql.QuoteIdent(r.old), mysql.QuoteIdent(rec.Shadow)+"'s saved state table "+mysql.QuoteIdent(r.saved.store.Name())))
		}
		return invalid(fmt.Errorf("the saved migration of %s copies into %s, which does not exist any more; start over with --initially-drop-ghost-table", mysql.QuoteIdent(r.cfg.Table), mysql.QuoteIdent(r.shadow)))
	}
	def, err := showCreateTable(ctx, r.db, r.cfg.Database, r.shadow)
	if err != nil {
		return err
	}
	if !sameShadow(def, rec.ShadowDefinition, rec.DeferredIndexes) {
		r.log.Error("the shadow table's definition is not the saved one", "definition", def, "saved", rec.ShadowDefinition)
		return invalid(fmt.Errorf("the table %s is not the saved migration's shadow: its definition differs from the one the saved state recorded (both are in the log); start over with --initially-drop-ghost-table", mysql.QuoteIdent(r.shadow)))
	}
	if rec.Position.IsZero() {
		return invalid(fmt.Errorf("the saved migration of %s has no binary log position to continue from; start over with --initially-drop-ghost-table", mysql.QuoteIdent(r.cfg.Table)))
	}
	present, err := binlogPresent(ctx, r.db, rec.Position.File)
	if err != nil {
		return fmt.Errorf("list the binary logs: %w", err)
	}
	if !present {
		return invalid(fmt.Errorf("the binary log %s, from which the saved migration of %s must apply the changes made since it stopped, is no longer on the server (purged), so the shadow cannot be brought up to date; start over with --initially-drop-ghost-table, and keep binary logs (binlog_expire_logs_seconds) longer than a migration may stay stopped", rec.Position.File, mysql.QuoteIdent(r.cfg.Table)))
	}
	return nil
}

// normalizeClauses makes clauses that differ only in spacing compare equal.
func normalizeClauses(s string) string { return strings.Join(strings.Fields(s), " ") }

// sameShadow reports whether def, the shadow's definition now, is the
// saved one, with or without the indexes deferred until after the copy
// (the build adds them all in one statement). The table option
// AUTO_INCREMENT moves with the copy and is left out.
func sameShadow(def, saved string, deferred []string) bool {
	now := definitionLines(def, nil)
	return slices.Equal(now, definitionLines(saved, nil)) || slices.Equal(now, definitionLines(saved, deferred))
}

// definitionLines are the lines of def, a SHOW CREATE TABLE, without its
// AUTO_INCREMENT, trailing commas and the lines drop: two definitions of
// the same table compare equal line by line, also when one lacks a few
// index lines.
func definitionLines(def string, drop []string) []string {
	var out []string
	for _, l := range strings.Split(withoutAutoIncrement(def), "\n") {
		l = strings.TrimSuffix(strings.TrimSpace(l), ",")
		if !slices.Contains(drop, l) {
			out = append(out, l)
		}
	}
	return out
}

// binlogPresent reports whether the server still has the binary log file.
func binlogPresent(ctx context.Context, db *sql.DB, file string) (bool, error) {
	logs, err := mysql.ShowRows(ctx, db, "SHOW BINARY LOGS")
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(logs, func(l map[string]string) bool { return l["log_name"] == file }), nil
}

// adoptShadow takes over the saved migration's shadow instead of making
// one: the mapping is made again from the tables, and must walk the same
// key; the deferred indexes not built yet are still to build. Statements an
// earlier run left running on the shadow (an index build goes on after its
// client is gone) are killed first.
func (r *Runner) adoptShadow(ctx context.Context) error {
	rec := r.saved.earlier
	r.setPhase(PhaseCreateShadow)
	// r.run.shadowCreated stays unset until the run owns the saved state
	// (startSavedState): a resume refused before then must leave the
	// earlier runs' work as it is, not clean it up.
	if err := r.killLeftoverStatements(ctx); err != nil {
		return err
	}
	if err := r.removeLeftoverSentry(ctx, rec.RunID); err != nil {
		return err
	}
	shadowTable, err := schema.Load(ctx, r.db, r.cfg.Database, r.shadow)
	if err != nil {
		return err
	}
	if r.cfg.Revert {
		// The columns map back as the migration recorded.
		if r.mapping, err = schema.NewMapping(r.table, shadowTable, rec.RevertColumns); err != nil {
			return invalid(fmt.Errorf("the table cannot be reverted into %s: %w", mysql.QuoteIdent(r.shadow), err))
		}
	} else if err := r.mapColumns(ctx, shadowTable); err != nil {
		return err
	}
	// The rows already copied were converted in the saved zone; the rest
	// must be too, whatever the server's zone is now.
	r.mapping.TimeZone = rec.TimeZone
	if rec.KeyColumns != nil && !slices.Equal(r.mapping.KeyOldNames(), rec.KeyColumns) {
		return invalid(fmt.Errorf("the saved migration copied by the key (%s), and the tables now give (%s); start over with --initially-drop-ghost-table",
			strings.Join(rec.KeyColumns, ", "), strings.Join(r.mapping.KeyOldNames(), ", ")))
	}
	r.run.shadowDefinition = rec.ShadowDefinition
	for _, k := range schema.PlainKeys("\n" + strings.Join(rec.DeferredIndexes, "\n") + "\n") {
		if !slices.ContainsFunc(shadowTable.Indexes, func(idx schema.Index) bool { return strings.EqualFold(idx.Name, k.Name) }) {
			r.run.deferredKeys = append(r.run.deferredKeys, k)
		}
	}
	what := "resuming the saved migration"
	if r.cfg.Revert {
		what = "reverting: the writes since the cut-over go to the kept table, which is then swapped back in"
	}
	r.log.Info(what, "phase", PhaseCreateShadow.String(), "run", rec.RunID, "kept_table", r.shadow,
		"saved_phase", rec.Phase, "rows_copied_before", rec.RowsCopied, "copy_done", rec.CopyDone,
		"checksum_passed", rec.ChecksumPassed, "position", rec.Position.String(), "indexes_to_build", keyNames(r.run.deferredKeys))
	return nil
}

// killLeftoverStatements kills the sessions that still write to the shadow
// on behalf of an earlier run: this run holds the migration lock, so no
// other tailor works on the table, and such a statement (an index build,
// above all, which the server finishes after its client died) would race
// with this run's own.
func (r *Runner) killLeftoverStatements(ctx context.Context) error {
	rows, err := r.db.QueryContext(ctx, `SELECT ID, USER, TIME, INFO FROM information_schema.PROCESSLIST
		 WHERE ID <> CONNECTION_ID() AND INFO IS NOT NULL AND INFO LIKE CONCAT('%', ?, '%')`, r.shadow)
	if err != nil {
		return fmt.Errorf("look for statements an earlier run left on %s: %w", r.shadow, err)
	}
	type leftover struct {
		id         int64
		user, info string
		secs       int64
	}
	var found []leftover
	for rows.Next() {
		var l leftover
		if err := rows.Scan(&l.id, &l.user, &l.secs, &l.info); err != nil {
			rows.Close()
			return err
		}
		verb := strings.ToUpper(strings.TrimSpace(l.info))
		for _, w := range []string{"ALTER", "INSERT", "DELETE", "REPLACE", "UPDATE", "ANALYZE"} {
			if strings.HasPrefix(verb, w) {
				found = append(found, l)
				break
			}
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, l := range found {
		r.log.Warn("killing a statement an earlier run left running on the shadow", "phase", PhaseCreateShadow.String(),
			"id", l.id, "user", l.user, "seconds", l.secs, "query", truncate(l.info, 200))
		if _, err := r.db.ExecContext(ctx, fmt.Sprintf("KILL QUERY %d", l.id)); err != nil && mysql.ErrorNumber(err) != mysql.ErrNoSuchThread {
			return fmt.Errorf("kill statement %d that an earlier run left on %s: %w", l.id, r.shadow, err)
		}
	}
	// A killed ALTER rolls back before it ends; wait until none is left.
	deadline := time.Now().Add(r.cfg.ReconnectTimeout)
	for _, l := range found {
		for {
			var n int
			if err := r.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO IS NOT NULL", l.id).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("statement %d that an earlier run left on %s is still running after it was killed; wait for it to end and resume again", l.id, r.shadow)
			}
			if err := mysql.Backoff(ctx, 200*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// removeLeftoverSentry drops the sentry table an interrupted cut-over of
// run left behind, and only that run's.
func (r *Runner) removeLeftoverSentry(ctx context.Context, run string) error {
	removed, err := cutover.RemoveSentry(ctx, r.db, r.cfg.Database, r.cfg.Table, sentryOwner(run))
	if err != nil {
		return err
	}
	if removed {
		r.log.Info("removed the sentry table an interrupted cut-over left", "phase", PhaseCreateShadow.String(), "run", run)
	}
	return nil
}

func sentryOwner(run string) string { return "tailor run " + run }

// startSavedState makes the saved state of a new migration, once its
// shadow exists, or takes over the state being resumed.
func (r *Runner) startSavedState(ctx context.Context, start capture.Position) error {
	s := &r.saved
	if s.earlier != nil {
		if err := s.store.TakeOver(ctx, s.earlier.RunID, r.runID); err != nil {
			return fmt.Errorf("take over the saved state: %w", err)
		}
		rec := *s.earlier
		rec.RunID, rec.TailorVersion = r.runID, Version()
		s.mu.Lock()
		s.rec, s.rowsBefore = &rec, s.earlier.RowsCopied
		s.mu.Unlock()
		r.setRowsBefore(s.earlier.RowsCopied)
		r.run.shadowCreated = true // this run's from now on
		return nil
	}
	deferred := make([]string, len(r.run.deferredKeys))
	for i, k := range r.run.deferredKeys {
		deferred[i] = k.Definition
	}
	def := r.run.shadowDefinition
	if def == "" {
		var err error
		if def, err = showCreateTable(ctx, r.db, r.cfg.Database, r.shadow); err != nil {
			return err
		}
		r.run.shadowDefinition = def
	}
	rec := &state.Record{
		TailorVersion:    Version(),
		RunID:            r.runID,
		Alter:            r.alter.Clauses,
		Shadow:           r.shadow,
		Phase:            PhaseCopy.String(),
		KeyColumns:       r.mapping.KeyOldNames(),
		Position:         start,
		DeferredIndexes:  deferred,
		ShadowDefinition: def,
		TimeZone:         r.mapping.TimeZone,
	}
	if err := s.store.Create(ctx, rec); err != nil {
		return fmt.Errorf("save the migration's state: %w", err)
	}
	s.mu.Lock()
	s.rec = rec
	s.mu.Unlock()
	return nil
}

// dropEarlierState drops the state an earlier run left, for
// --initially-drop-ghost-table.
func (r *Runner) dropEarlierState(ctx context.Context) error {
	if !r.saved.drop {
		return nil
	}
	if err := r.saved.store.Drop(ctx); err != nil {
		return fmt.Errorf("drop the saved state an earlier run left: %w", err)
	}
	r.log.Info("dropped the saved state an earlier run left (--initially-drop-ghost-table)", "table", r.saved.store.Name())
	return nil
}

// checkpoint writes the run's progress into its saved state: the phase, the
// copy's low-watermark, the position up to which every change has been
// applied, and what is done.
func (r *Runner) checkpoint(ctx context.Context) error {
	s := &r.saved
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec == nil {
		return nil
	}
	rec := s.rec
	rec.Phase = r.progress.Phase().String()
	if w := r.watermark; w != nil {
		low, complete, rows := w.position()
		rec.LowWatermark, rec.CopyDone = low, rec.CopyDone || complete
		rec.RowsCopied = s.rowsBefore + rows
	}
	if st := r.stream; st != nil {
		if pos := st.checkpoint(); pos.Compare(rec.Position) > 0 {
			rec.Position = pos
		}
	}
	rec.UpdatedAt = time.Time{}
	if err := s.store.Save(ctx, rec); err != nil {
		return fmt.Errorf("save the migration's state: %w", err)
	}
	return nil
}

// markChecksumPassed records in the saved state that the copy matched.
func (r *Runner) markChecksumPassed(ctx context.Context) error {
	r.saved.mu.Lock()
	if r.saved.rec != nil {
		r.saved.rec.ChecksumPassed = true
	}
	r.saved.mu.Unlock()
	return r.checkpoint(ctx)
}

// keepCheckpointing writes the saved state every CheckpointInterval and at
// each phase change, until ctx ends.
func (r *Runner) keepCheckpointing(ctx context.Context) error {
	tick := time.NewTicker(r.cfg.CheckpointInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-r.saved.changed:
		}
		if err := r.checkpoint(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// A checkpoint missed is progress a resume repeats, not a
			// reason to stop: the connection's own retries are elsewhere.
			r.log.Warn("could not save the migration's state; a resume would repeat the work since the last save", "err", err)
		}
	}
}

// phaseChanged wakes the checkpoint loop.
func (r *Runner) phaseChanged() {
	select {
	case r.saved.changed <- struct{}{}:
	default:
	}
}

// resumable reports whether a run that failed with err, after its shadow
// and saved state were made, should keep them for --resume: every failure
// that may pass (a lost connection, a cut-over that could not get its lock,
// a hook that said no) does; a stop asked for (Ctrl-C, abort), and a
// failure that running again cannot mend (a row the new table cannot hold,
// a copy that does not match), do not.
func (r *Runner) resumable(ctx context.Context, err error) bool {
	if r.saved.rec == nil || ctx.Err() != nil {
		return false
	}
	var rowErr *rowcopy.RowError
	var mismatch *verify.MismatchError
	switch {
	case KindOf(err) != KindFailed && KindOf(err) != KindConnect,
		errors.Is(err, errLostLock),
		// Another DDL on the table or its shadow: every resume would
		// meet it again.
		errors.Is(err, capture.ErrTableChanged),
		errors.Is(err, errShadowChanged),
		// The operator's panic flag: a stop asked for.
		errors.Is(err, throttle.ErrPanicFlag),
		errors.As(err, &rowErr),
		errors.As(err, &mismatch):
		return false
	}
	return true
}

// keepForResume saves the state one last time, with why the run stopped,
// and says what is kept, as the end of a sentence.
func (r *Runner) keepForResume(cause error) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.saved.mu.Lock()
	if r.saved.rec != nil {
		r.saved.rec.Note = cause.Error()
	}
	r.saved.mu.Unlock()
	if err := r.checkpoint(ctx); err != nil {
		r.log.Warn("could not save the migration's state at the stop; a resume starts from the last save", "err", err)
	}
	return fmt.Sprintf("; the copy %s is kept: --resume continues it, --initially-drop-ghost-table starts over", mysql.QuoteIdent(r.shadow))
}

// dropSavedState drops this run's saved state: the migration finished, or
// stopped for good.
func (r *Runner) dropSavedState(ctx context.Context) {
	if r.saved.rec == nil {
		return
	}
	if err := r.saved.store.Drop(ctx); err != nil {
		r.log.Warn("could not drop the saved state; drop it by hand", "table", r.saved.store.Name(), "err", err)
		return
	}
	r.saved.mu.Lock()
	r.saved.rec = nil
	r.saved.mu.Unlock()
}

package migrate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tailor-osc/tailor/internal/cutover"
	"github.com/tailor-osc/tailor/internal/hooks"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
	"github.com/tailor-osc/tailor/internal/state"
)

// A revert undoes the last migration of a table without losing a write
// made since its cut-over. The migration kept the table it replaced (the
// "kept" table, <table>_tailor_old) and recorded in the saved state the
// binary log position of its swap and how the columns map back
// (state.Record.RevertColumns). The kept table held exactly the rows of
// the table at that position, so it is a shadow whose copy is done: a
// revert is a resumed migration from the table as it is now into the kept
// table, from the swap's position on, with the columns mapped back. It
// applies every change made since the swap, checks the kept table against
// the table (the checksum), and swaps them with the same cut-over as a
// migration. The table it replaces is kept in turn, under the other name,
// with a saved state of its own, so that a revert can be reverted.
//
// A revert never drops the kept table: whatever stops it, the kept table
// and the saved state stay, and running tailor revert again continues it.

// revertStates is the phase of a migration that finished and can be
// reverted.
const revertable = "done"

// keptName is the name the table a revert replaces takes: the name of the
// kept table the last migration did not use.
func keptName(table, kept string) string {
	if kept == OldName(table) {
		return cutover.NameAfter(table, "_tailor_rev")
	}
	return OldName(table)
}

// runRevert checks that the last migration of the table can be reverted
// and reverts it (a dry run only checks).
func (r *Runner) runRevert(ctx context.Context) (*Result, error) {
	var err error
	r.table, err = schema.Load(ctx, r.db, r.cfg.Database, r.cfg.Table)
	if errors.Is(err, schema.ErrTableNotFound) {
		return nil, invalid(fmt.Errorf("table %s does not exist in database %s; check --table and --database", mysql.QuoteIdent(r.cfg.Table), mysql.QuoteIdent(r.cfg.Database)))
	}
	if err != nil {
		return nil, err
	}
	if err := r.checkNotRunning(ctx); err != nil {
		return nil, err
	}
	rec, err := r.loadRevertable(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.checkRevertable(ctx, rec); err != nil {
		return nil, err
	}
	// Triggers the migration moved to the table (--recreate-triggers) go
	// back with it: the cut-over moves whatever the table has.
	if r.triggers, err = schema.LoadTriggers(ctx, r.db, r.cfg.Database, r.cfg.Table); err != nil {
		return nil, fmt.Errorf("read the triggers of %s: %w", r.cfg.Table, err)
	}
	if !r.cfg.Execute {
		return &Result{DryRun: true, Database: r.cfg.Database, Revert: r.describeRevert(rec)}, nil
	}
	if err := r.hook(ctx, hooks.OnValidated); err != nil {
		return nil, err
	}
	if err := r.lockTable(ctx); err != nil {
		return nil, err
	}
	defer r.unlockTable()
	return r.executeAndReport(ctx)
}

// loadRevertable reads the saved state and makes of it the state of the
// revert: a finished migration to revert, or a revert that stopped.
func (r *Runner) loadRevertable(ctx context.Context) (*state.Record, error) {
	store, err := state.New(r.db, r.cfg.Database, r.cfg.Table)
	if err != nil {
		return nil, invalid(err)
	}
	r.saved.store = store
	rec, err := store.Load(ctx)
	var formatErr *state.FormatError
	switch {
	case errors.As(err, &formatErr):
		return nil, invalid(fmt.Errorf("%w: revert it with the tailor that made the migration", err))
	case errors.Is(err, state.ErrNotState):
		return nil, invalid(fmt.Errorf("a table named %s exists and is not a tailor state table; there is no migration of %s to revert", mysql.QuoteIdent(store.Name()), mysql.QuoteIdent(r.cfg.Table)))
	case err != nil:
		return nil, fmt.Errorf("read the saved state: %w", err)
	case rec == nil:
		return nil, invalid(fmt.Errorf("there is no migration of %s to revert: tailor keeps what a revert needs (%s) from a migration's cut-over until the old table is dropped, and none is there (a change made natively INSTANT keeps no old table: make its inverse change, which tailor plan gives)", mysql.QuoteIdent(r.cfg.Table), mysql.QuoteIdent(store.Name())))
	case rec.Phase != revertable && !rec.Reverting:
		return nil, invalid(fmt.Errorf("%s; a migration that has not swapped the tables has nothing to revert: continue it with tailor alter --resume, or drop it with --initially-drop-ghost-table", describeSaved(rec)))
	case rec.Phase == revertable && len(rec.RevertColumns) == 0:
		return nil, invalid(fmt.Errorf("the saved state of %s does not say how its columns map back; it cannot be reverted", mysql.QuoteIdent(r.cfg.Table)))
	}
	if rec.Phase == revertable {
		// A revert from the swap: the kept table's copy is done as of
		// the swap, and is checked before the swap back.
		rec.Reverting, rec.CopyDone, rec.ChecksumPassed = true, true, false
		rec.LowWatermark, rec.DeferredIndexes, rec.RowsCopied = nil, nil, 0
		rec.Phase = PhaseCreateShadow.String()
	}
	r.saved.earlier = rec
	r.shadow = rec.Shadow
	r.old = keptName(r.cfg.Table, rec.Shadow)
	r.cfg.Alter = rec.Alter // for the status: the change being undone
	return rec, nil
}

// checkRevertable refuses a revert that would not give back the table the
// migration replaced with every write since: the kept table gone or
// changed, the binary log since the swap purged, or the name the table
// would take in use.
func (r *Runner) checkRevertable(ctx context.Context, rec *state.Record) error {
	kept := mysql.QuoteIdent(rec.Shadow)
	exists, err := r.tableExists(ctx, rec.Shadow)
	if err != nil {
		return err
	}
	if !exists {
		return invalid(fmt.Errorf("the table the migration of %s kept, %s, is gone, so it cannot be reverted; drop the saved state %s", mysql.QuoteIdent(r.cfg.Table), kept, mysql.QuoteIdent(r.saved.store.Name())))
	}
	def, err := showCreateTable(ctx, r.db, r.cfg.Database, rec.Shadow)
	if err != nil {
		return err
	}
	if !sameShadow(def, rec.ShadowDefinition, nil) {
		r.log.Error("the kept table's definition is not the one the migration kept", "definition", def, "saved", rec.ShadowDefinition)
		return invalid(fmt.Errorf("the table %s was altered since the migration kept it (its definition differs from the saved one; both are in the log), so a revert would not give the table back as it was", kept))
	}
	if exists, err := r.tableExists(ctx, r.old); err != nil {
		return err
	} else if exists {
		return invalid(fmt.Errorf("a table named %s already exists, and the revert would give the table that name; drop or rename it first", mysql.QuoteIdent(r.old)))
	}
	present, err := binlogPresent(ctx, r.db, rec.Position.File)
	if err != nil {
		return fmt.Errorf("list the binary logs: %w", err)
	}
	if !present {
		return invalid(fmt.Errorf("the binary log %s, which holds the writes made to %s since the cut-over, is no longer on the server (purged), so a revert would lose them; it cannot be made losslessly", rec.Position.File, mysql.QuoteIdent(r.cfg.Table)))
	}
	return nil
}

// RevertPlan is what a revert would do, for a dry run.
type RevertPlan struct {
	// Alter is the change the revert undoes; Kept the table it swaps back
	// in, and Replaced the name the table takes.
	Alter, Kept, Replaced string
	// Since is the binary log position of the cut-over, from which the
	// writes are applied to Kept; InProgress says a revert stopped there
	// and continues from its checkpoint.
	Since      string
	InProgress bool
}

func (r *Runner) describeRevert(rec *state.Record) *RevertPlan {
	return &RevertPlan{Alter: rec.Alter, Kept: rec.Shadow, Replaced: r.old, Since: rec.Position.String(), InProgress: rec.Phase != PhaseCreateShadow.String()}
}

// saveRevertable replaces the finished migration's saved state by what a
// revert of it needs: the table it kept, the swap's position and the
// columns mapped back. With the old table dropped there is nothing to
// revert to, and the state goes.
func (r *Runner) saveRevertable(ctx context.Context, res *Result) {
	if res.OldTable == "" || r.run.swappedAt.IsZero() {
		// No old table, or no proof of where the swap is in the binary
		// log: nothing a revert could start from.
		r.dropSavedState(ctx)
		return
	}
	def, err := showCreateTable(ctx, r.db, r.cfg.Database, r.old)
	if err != nil {
		r.log.Warn("could not record what a revert needs; the migration cannot be reverted", "err", err)
		r.dropSavedState(ctx)
		return
	}
	back := make([][2]string, len(r.mapping.Columns))
	for i, c := range r.mapping.Columns {
		back[i] = [2]string{c.New, c.Old}
	}
	// The way back needs a key of the new table that the old one keeps
	// (a primary key that gained a column has none): without one, there
	// is nothing a revert could do.
	if _, err := schema.NewMapping(r.mapping.Shadow, r.mapping.Source, back); err != nil {
		r.log.Info("the migration cannot be reverted by tailor revert", "reason", err.Error())
		r.dropSavedState(ctx)
		return
	}
	s := &r.saved
	s.mu.Lock()
	rec := s.rec
	if rec == nil {
		s.mu.Unlock()
		return
	}
	rec.Phase, rec.Reverting = revertable, false
	rec.Shadow, rec.ShadowDefinition, rec.RevertColumns = r.old, def, back
	rec.Position = r.run.swappedAt
	rec.KeyColumns, rec.LowWatermark, rec.DeferredIndexes = nil, nil, nil
	rec.CopyDone, rec.ChecksumPassed = true, false
	rec.Note = fmt.Sprintf("swapped at %s; tailor revert swaps %s back in with every write made since", time.Now().UTC().Format(time.DateTime), r.old)
	rec.UpdatedAt = time.Time{}
	err = s.store.Save(ctx, rec)
	s.mu.Unlock()
	if err != nil {
		r.log.Warn("could not record what a revert needs; the migration cannot be reverted", "err", err)
		return
	}
	res.Revertible = true
}

// revertStopped ends a revert that did not swap: the kept table and the
// saved state always stay (the kept table is the way back, and what it
// holds is the saved state's), and running tailor revert again continues.
func (r *Runner) revertStopped(ctx context.Context, err error, phase Phase, untouched string) error {
	left := untouched
	if errors.Is(err, errLostLock) {
		left += fmt.Sprintf("; the kept table %s was left alone, as another tailor may work on it now", mysql.QuoteIdent(r.shadow))
	} else {
		r.keepForResume(err)
		left += fmt.Sprintf("; the kept table %s is kept, up to date as of the last checkpoint: tailor revert again continues", mysql.QuoteIdent(r.shadow))
	}
	switch {
	case errors.Is(context.Cause(ctx), ErrAborted):
		return &Error{Kind: KindInterrupted, Err: fmt.Errorf("revert aborted by the operator during %s; %s", phase, left)}
	case ctx.Err() != nil:
		return &Error{Kind: KindInterrupted, Err: fmt.Errorf("revert interrupted during %s; %s", phase, left)}
	case r.resumable(ctx, err):
		return &Error{Kind: KindResumable, Err: fmt.Errorf("the revert stopped during %s: %w; %s", phase, err, left)}
	}
	return fmt.Errorf("the revert failed during %s: %w; %s", phase, err, left)
}

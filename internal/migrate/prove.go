package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/rowcopy"
	"github.com/tailor-osc/tailor/internal/schema"
)

// Every swap is proved afterwards from the binary log, whatever the
// cut-over's own argument (package cutover) says: the changes the catch-up
// applied end at the position it read under the lock, so a row event of
// the original between that position and the RENAME is a write that
// reached the original after the catch-up, and is not in the new table. A
// lock order that a future server changes, another session's DDL queued on
// the original before the RENAME, a bug of tailor's own: whatever the
// cause, the run does not report success over a lost write.

// proofTimeout bounds the reading of the binary log after a swap; the part
// read is a few events long.
const proofTimeout = 30 * time.Second

// proofAttempts is how many times a proof that could not read the binary
// log (a lost connection) is tried.
const proofAttempts = 3

// maxKeysShown is how many keys of late writes an error names.
const maxKeysShown = 20

// LateWritesError is a swap after which writes were found in the old table
// that the new table does not have.
type LateWritesError struct {
	Database, Table, Old string
	// Writes is how many row changes reached the old table after the
	// final catch-up; Keys are their keys (column=value, ...), at most
	// maxKeysShown of them.
	Writes int
	Keys   []string
}

func (e *LateWritesError) Error() string {
	more := ""
	if e.Writes > len(e.Keys) {
		more = fmt.Sprintf(" and %d more", e.Writes-len(e.Keys))
	}
	return fmt.Sprintf("the tables were swapped, but %d writes reached the original, now %s, after the final catch-up and are missing from the new %s (keys %s%s); the old table is kept: copy those rows from it into %s",
		e.Writes, mysql.QuoteTable(e.Database, e.Old), mysql.QuoteIdent(e.Table), strings.Join(e.Keys, "; "), more, mysql.QuoteIdent(e.Table))
}

// proveSwap reads the binary log from the final catch-up's position to the
// RENAME that swapped the tables (rename, the statement as sent) and fails
// with a LateWritesError when a row event of the original lies in between.
// It runs on a context of its own, bounded by proofTimeout: the tables are
// swapped, and a Ctrl-C must not turn a proof into an unknown.
func (r *Runner) proveSwap(ctx context.Context, from capture.Position, rename string) error {
	if h := r.cfg.testHooks; h != nil && h.proofFrom != nil {
		from = h.proofFrom(from)
	}
	ctx = context.WithoutCancel(ctx)
	var late []capture.Change
	var err error
	for attempt := 1; attempt <= proofAttempts; attempt++ {
		late, err = r.lateWrites(ctx, from, rename)
		var other *otherDDLError
		if err == nil || errors.As(err, &other) {
			break
		}
		r.log.Warn("could not read the binary log to prove the swap; trying again", "phase", PhaseCutOver.String(), "attempt", attempt, "err", err)
	}
	if err != nil {
		return fmt.Errorf("the tables were swapped, but tailor could not prove from the binary log that no write reached the original, now %s, after the final catch-up at %s (%w); compare it with %s before dropping it",
			mysql.QuoteIdent(r.old), from, err, mysql.QuoteIdent(r.cfg.Table))
	}
	if len(late) == 0 {
		r.log.Info("swap proved: no write reached the original after the final catch-up", "phase", PhaseCutOver.String(), "pos", from.String())
		return nil
	}
	e := &LateWritesError{Database: r.cfg.Database, Table: r.cfg.Table, Old: r.old, Writes: len(late)}
	for _, c := range late[:min(len(late), maxKeysShown)] {
		e.Keys = append(e.Keys, r.describeKey(c))
	}
	return &Error{Kind: KindLostWrites, Err: e}
}

// otherDDLError is a statement other than the cut-over's RENAME that
// changed the original between the catch-up and the RENAME: the binary
// log cannot be read past it as the original's, so the proof stops there.
type otherDDLError struct{ statement string }

func (e *otherDDLError) Error() string {
	return fmt.Sprintf("another statement changed the table before the RENAME: %s", e.statement)
}

// lateWrites returns the changes to the original that the binary log holds
// between from and the statement rename.
func (r *Runner) lateWrites(ctx context.Context, from capture.Position, rename string) ([]capture.Change, error) {
	ctx, cancel := context.WithTimeout(ctx, proofTimeout)
	defer cancel()
	reader := capture.NewReader(capture.ReaderConfig{
		Conn:   r.connConfig(),
		Server: r.server,
		// The stream's reader has stopped, so the proof registers under
		// its id, which the operator chose or tailor made unique.
		ServerID: r.cfg.ReplicaServerID,
		Table:    r.table,
		Logger:   r.cfg.Logger,
	})
	batches := make(chan capture.Batch, 16)
	done := make(chan error, 1)
	go func() { done <- reader.Run(ctx, from, batches) }()
	var late []capture.Change
	for {
		select {
		case b := <-batches:
			late = append(late, b.Changes...)
		case err := <-done:
			// Run sent every batch before it returned.
			for len(batches) > 0 {
				late = append(late, (<-batches).Changes...)
			}
			var ddl *capture.DDLError
			switch {
			case errors.As(err, &ddl) && strings.TrimSpace(ddl.Statement) == strings.TrimSpace(rename):
				r.run.swappedAt = ddl.End
				return late, nil
			case errors.As(err, &ddl):
				return nil, &otherDDLError{statement: ddl.Statement}
			case err == nil || errors.Is(err, context.DeadlineExceeded):
				return nil, fmt.Errorf("the RENAME was not found within %s", proofTimeout)
			}
			return nil, err
		}
	}
}

// describeKey names the row a change wrote by its copy key, as
// column=value pairs.
func (r *Runner) describeKey(c capture.Change) string {
	image := c.After
	if c.Kind == capture.Delete {
		image = c.Before
	}
	cols := r.mapping.KeyOldNames()
	vals := schema.ShownKey(r.mapping.Source, cols, r.mapping.KeyValues(image))
	parts := make([]string, len(cols))
	for i, col := range cols {
		parts[i] = fmt.Sprintf("%s=%v", col, rowcopy.Printable(vals[i]))
	}
	return c.Kind.String() + " " + strings.Join(parts, ", ")
}

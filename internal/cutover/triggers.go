package cutover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// Moving the triggers (Config.Triggers)
//
// RENAME TABLE takes a table's triggers with it, so a plain swap would
// leave them on the old table and the new one without any. With
// Config.Triggers, the attempt moves them between the catch-up and the
// RENAME (step 3b of swapWithSentry), under A's lock:
//
//  1. Check, reading information_schema, that the original has exactly
//     Config.Triggers (nobody can add or drop one while A holds its lock:
//     both need an exclusive metadata lock on the table) and the shadow
//     none.
//  2. A drops them from the original, last first.
//  3. B creates them on the shadow, in ACTION_ORDER, each with the sql_mode,
//     character_set_client and collation_connection it was created with
//     (schema.Trigger.SetSessionSQL), then restores its own.
//
// Then B's RENAME is queued as usual, and takes the shadow's triggers to
// the name of the original.
//
// # Why this order
//
// MariaDB 10.11 behaviour (TestServerTriggersUnderLockTables records it):
//
//   - Trigger names are unique in a database: CREATE TRIGGER of a name that
//     the original's trigger still has fails (error 1359), so the drop must
//     come first.
//   - A, holding LOCK TABLES t WRITE, may DROP TRIGGER and CREATE TRIGGER on
//     t; the lock is kept (the statement upgrades it and gives it back). No
//     other session may: its DROP TRIGGER waits for A's lock.
//   - A may not create a trigger on the shadow: it is not among A's locked
//     tables (error 1100). Locking it too would stop the applier the
//     catch-up waits for. B, holding no lock, may create triggers on the
//     shadow while A holds its locks, once A has dropped the names.
//   - A queued RENAME already holds the metadata lock on every name that
//     sorts before the one it waits for (see swapWithSentry), the shadow's
//     when it sorts before the original's ("_t_new" before "t"), so the
//     triggers must be on the shadow before the RENAME is issued.
//   - CREATE TRIGGER checks that the columns the body names as NEW.col or
//     OLD.col exist in the table (error 1054); other names in the body are
//     only resolved when it fires. See ErrTriggerNotRecreatable.
//
// This keeps the invariant that every write to the table fires its
// triggers exactly once: nothing writes the original between the drop and
// the RENAME (A's lock), nothing writes the shadow either (the catch-up is
// done: the applier has nothing more to write and waits), and the RENAME
// runs before any queued writer. Creating the triggers on the shadow any
// earlier would fire them for the applier's copies of rows whose triggers
// already fired on the original.
//
// # Failures
//
// When anything fails after the first DROP TRIGGER (a statement fails or
// is killed at the end of the budget, ctx is cancelled, the RENAME is not
// seen waiting), fail waits for B's RENAME to end, then restoreTriggers
// reads from the server where each trigger is, drops those on the shadow
// and creates the missing ones on the original from A, still holding the
// lock, so that the writers it releases find them there. The error says
// so, and is retryable as the cause is. If that fails, it is tried again
// from a new connection after the lock is released; if the triggers still
// cannot be put back, the error is final and names them with the SQL that
// recreates them.
//
// Limits: if A's connection dies (killed, or this process ends) after the
// first DROP TRIGGER, its lock goes with it and writers reach the original
// while it lacks triggers until they are put back from another connection;
// the error is then final and says that some writes may have run without
// them. If this process dies there, nobody puts them back: the triggers are
// logged (Info, with their SQL) before they are dropped. A session holding
// a metadata lock on the shadow (a transaction that read it) makes CREATE
// TRIGGER on it wait until the budget ends, and, if one trigger was
// created before it came, also the DROP TRIGGER that must free the name,
// so that the triggers cannot be put back. The recreated triggers get a
// new creation time and the database's current default collation, and
// their statements are re-rendered from the TRIGGER keyword on (comments
// and spacing in the header are lost; the body is kept byte for byte).

// ErrTriggersChanged is wrapped by the error of an attempt that found, under
// its lock, triggers on the original other than Config.Triggers, or
// triggers on the shadow. Retrying does not help: the migration has to
// start again from the table as it is.
var ErrTriggersChanged = errors.New("the triggers are not the ones the cut-over was given")

// ErrTriggerNotRecreatable is wrapped by the error of an attempt that could
// not create a trigger on the shadow because of its definition: MariaDB
// 10.11 checks at CREATE TRIGGER that the columns a body names as NEW.col
// or OLD.col exist (error 1054), so a trigger using a column the change
// drops or renames cannot move (other names in the body are only checked
// when it fires). Retrying does not help; the triggers are put back on the
// original.
var ErrTriggerNotRecreatable = errors.New("a trigger cannot be created on the new table")

// Server errors of a CREATE TRIGGER that no retry overcomes.
const (
	errBadField = 1054 // ER_BAD_FIELD_ERROR: NEW.col or OLD.col of a missing column
	errParse    = 1064 // ER_PARSE_ERROR
	errNoTrgRow = 1363 // ER_TRG_NO_SUCH_ROW_IN_TRG
)

// triggerMove is one trigger of Config.Triggers with its statements,
// prepared before the lock is taken.
type triggerMove struct {
	trigger schema.Trigger
	// onShadow and onOriginal create it on the shadow and on the original,
	// in the bytes of the trigger's character_set_client.
	onShadow, onOriginal string
}

// prepareTriggers renders and encodes the statements of the move before
// anything is locked, and points A and B at the database, as the CREATE
// TRIGGER statements name neither the trigger nor the table with it.
func (c *attempt) prepareTriggers(ctx context.Context) error {
	if len(c.cfg.Triggers) == 0 {
		return nil
	}
	for _, s := range []*session{c.a, c.b} {
		if err := s.exec(ctx, useSQL(c.cfg.Database)); err != nil {
			return classify(ctx, StepPrepare, err)
		}
	}
	var dbCollation string
	if err := c.db.QueryRowContext(ctx, schemaCollationSQL, c.cfg.Database).Scan(&dbCollation); err != nil {
		return classify(ctx, StepPrepare, fmt.Errorf("read the default collation of %s: %w", mysql.QuoteIdent(c.cfg.Database), err))
	}
	for _, t := range c.cfg.Triggers {
		m := triggerMove{trigger: t}
		var err error
		if m.onShadow, err = schema.EncodeForClient(ctx, c.db, t.CreateSQL(c.cfg.Shadow), t.CharacterSetClient); err == nil {
			m.onOriginal, err = schema.EncodeForClient(ctx, c.db, t.CreateSQL(c.cfg.Table), t.CharacterSetClient)
		}
		if errors.Is(err, schema.ErrNotRepresentable) {
			err = fmt.Errorf("%w: %w", ErrTriggerNotRecreatable, err)
		}
		if err != nil {
			return classify(ctx, StepPrepare, fmt.Errorf("prepare trigger %s: %w", mysql.QuoteIdent(t.Name), err))
		}
		if t.DatabaseCollation != dbCollation {
			c.log.Warn("the database's default collation changed since the trigger was created; the new table's trigger records the current one",
				"trigger", t.Name, "was", t.DatabaseCollation, "now", dbCollation)
		}
		c.moves = append(c.moves, m)
	}
	return nil
}

// checkTriggers is step 1 of the move: the original has exactly
// Config.Triggers, and the shadow, when there are some, none. It runs under
// A's lock, which keeps the original's triggers as they are.
func (c *attempt) checkTriggers(ctx context.Context) error {
	found, err := schema.LoadTriggers(ctx, c.db, c.cfg.Database, c.cfg.Table)
	if err != nil {
		return err
	}
	table := mysql.QuoteTable(c.cfg.Database, c.cfg.Table)
	switch {
	case len(c.cfg.Triggers) == 0 && len(found) == 0:
		return nil
	case len(c.cfg.Triggers) == 0:
		return fmt.Errorf("%s has triggers [%s], which the swap would leave behind on the old table: %w", table, triggerList(found), ErrTriggersChanged)
	case !slices.Equal(found, c.cfg.Triggers):
		return fmt.Errorf("the triggers on %s changed since they were read (now [%s], read [%s], definitions compared too): %w",
			table, triggerList(found), triggerList(c.cfg.Triggers), ErrTriggersChanged)
	}
	onShadow, err := schema.LoadTriggers(ctx, c.db, c.cfg.Database, c.cfg.Shadow)
	if err != nil {
		return err
	}
	if len(onShadow) > 0 {
		return fmt.Errorf("the shadow %s has triggers of its own [%s]: %w",
			mysql.QuoteTable(c.cfg.Database, c.cfg.Shadow), triggerList(onShadow), ErrTriggersChanged)
	}
	return nil
}

// moveTriggers is steps 2 and 3 of the move; see the comment at the top of
// this file.
func (c *attempt) moveTriggers(ctx context.Context) error {
	if err := c.checkTriggers(ctx); err != nil {
		return err
	}
	if len(c.moves) == 0 {
		return nil
	}
	// Logged before anything is dropped: if this process dies before the
	// RENAME, this is where the operator finds them.
	for _, m := range c.moves {
		c.log.Info("moving trigger to the new table", "step", StepTriggers, "trigger", m.trigger.Name, "sql", m.trigger.Script(c.cfg.Table))
	}
	c.triggersTouched = true
	for _, m := range slices.Backward(c.moves) {
		if err := c.a.exec(ctx, m.trigger.DropSQL()); err != nil {
			return fmt.Errorf("drop trigger %s from the original: %w", mysql.QuoteIdent(m.trigger.Name), err)
		}
	}
	for _, m := range c.moves {
		if err := createTrigger(ctx, c.b, m.trigger, m.onShadow); err != nil {
			switch mysql.ErrorNumber(err) {
			case errBadField:
				return fmt.Errorf("trigger %s cannot be created on the new table, which lacks a column it uses as NEW or OLD (%w): %w",
					mysql.QuoteIdent(m.trigger.Name), ErrTriggerNotRecreatable, err)
			case errParse, errNoTrgRow:
				return fmt.Errorf("trigger %s cannot be created on the new table (%w): %w", mysql.QuoteIdent(m.trigger.Name), ErrTriggerNotRecreatable, err)
			}
			return fmt.Errorf("create trigger %s on the shadow: %w", mysql.QuoteIdent(m.trigger.Name), err)
		}
	}
	c.log.Debug("triggers moved to the shadow", "step", StepTriggers, "triggers", len(c.moves))
	return nil
}

// createTrigger runs a CREATE TRIGGER on s with the trigger's session
// settings, and restores the session's own afterwards, even when ctx has
// ended: B goes on to run the RENAME, which must be read in the session's
// own character set.
func createTrigger(ctx context.Context, s *session, t schema.Trigger, stmt string) error {
	if err := s.exec(ctx, schema.SaveSessionSQL); err != nil {
		return fmt.Errorf("save the session settings: %w", err)
	}
	err := s.exec(ctx, t.SetSessionSQL())
	if err == nil {
		err = s.exec(ctx, stmt)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), adminTimeout)
	defer cancel()
	if rerr := s.exec(rctx, schema.RestoreSessionSQL); rerr != nil {
		return errors.Join(err, fmt.Errorf("restore the session settings: %w", rerr))
	}
	return err
}

// restoreTimeout bounds one restoreTriggers.
const restoreTimeout = 4 * adminTimeout

// restored is what restoreTriggers did.
type restored struct {
	// recreated is how many triggers it created on the original.
	recreated int
	// unguarded is true when it created some without A's lock: writers
	// were free to write the original while they were missing.
	unguarded bool
}

// restoreTriggers puts every trigger of the move back on the original,
// reading from the server where they are: each trigger on the shadow is
// dropped (names are unique in a database), each one missing from the
// original is created on it, in order. Reading the state makes it right
// whatever step failed, and harmless after a RENAME that did run (then the
// original's name holds the new table with all of them, and the shadow's
// name nothing). B's statement must have ended: a waiting RENAME may hold
// the shadow's metadata lock.
//
// The original's triggers are created by A while it holds its lock, so
// that no writer finds them missing; without the lock (A's connection died,
// or after UNLOCK), from a new connection.
func (c *attempt) restoreTriggers(ctx context.Context) (restored, error) {
	ctx, cancel := context.WithTimeout(ctx, restoreTimeout)
	defer cancel()
	var done restored
	onOriginal, onShadow, err := c.triggersNow(ctx)
	if err != nil {
		return done, c.restoreError(nil, nil, err)
	}
	// One spare connection, opened when needed, for what A cannot do.
	var spare *session
	defer func() {
		if spare != nil {
			spare.close()
		}
	}()
	useSpare := func() (*session, error) {
		if spare != nil {
			return spare, nil
		}
		s, err := c.spareSession(ctx)
		if err != nil {
			return nil, fmt.Errorf("open a connection: %w", err)
		}
		spare = s
		return s, nil
	}
	for _, m := range slices.Backward(c.moves) {
		if !onShadow[m.trigger.Name] {
			continue
		}
		s, err := useSpare()
		if err == nil {
			err = s.exec(ctx, m.trigger.DropSQL())
		}
		if err != nil {
			return done, c.restoreError(onOriginal, onShadow, fmt.Errorf("drop trigger %s from the shadow: %w", mysql.QuoteIdent(m.trigger.Name), err))
		}
		delete(onShadow, m.trigger.Name)
	}
	guarded := c.locked && c.alive(ctx, c.a)
	for _, m := range c.moves {
		if onOriginal[m.trigger.Name] {
			continue
		}
		target := c.a
		if !guarded {
			if target, err = useSpare(); err != nil {
				return done, c.restoreError(onOriginal, onShadow, err)
			}
			done.unguarded = true
		}
		if err := createTrigger(ctx, target, m.trigger, m.onOriginal); err != nil {
			return done, c.restoreError(onOriginal, onShadow, fmt.Errorf("create trigger %s on the original: %w", mysql.QuoteIdent(m.trigger.Name), err))
		}
		onOriginal[m.trigger.Name] = true
		done.recreated++
	}
	c.log.Debug("triggers put back on the original", "step", StepCleanup, "recreated", done.recreated, "unguarded", done.unguarded)
	return done, nil
}

// triggersNow reads which of the move's triggers are on the original and
// which on the shadow.
func (c *attempt) triggersNow(ctx context.Context) (onOriginal, onShadow map[string]bool, err error) {
	onOriginal, onShadow = map[string]bool{}, map[string]bool{}
	for table, into := range map[string]map[string]bool{c.cfg.Table: onOriginal, c.cfg.Shadow: onShadow} {
		found, err := schema.LoadTriggers(ctx, c.db, c.cfg.Database, table)
		if err != nil {
			return nil, nil, fmt.Errorf("find out where the triggers are: %w", err)
		}
		for _, t := range found {
			into[t.Name] = true
		}
	}
	return onOriginal, onShadow, nil
}

// alive reports whether s's connection still exists on the server, and so
// still holds its locks.
func (c *attempt) alive(ctx context.Context, s *session) bool {
	var n int
	err := c.db.QueryRowContext(ctx, connectionExistsSQL, s.id).Scan(&n)
	return err == nil && n == 1
}

// spareSession opens a connection for the restore, in the database, with a
// short lock wait: it is used when A cannot be.
func (c *attempt) spareSession(ctx context.Context) (*session, error) {
	s, err := openSession(ctx, c.db, restoreTimeout)
	if err != nil {
		return nil, err
	}
	for _, q := range []string{setLockWaitSQL(int(adminTimeout.Seconds())), useSQL(c.cfg.Database)} {
		if err := s.exec(ctx, q); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

// restoreError is the error of a restore that could not finish. It names
// the triggers missing from the original (all of them when where they are
// is unknown) with the SQL that creates them, and those left on the shadow,
// where the applier's writes would fire them.
func (c *attempt) restoreError(onOriginal, onShadow map[string]bool, err error) error {
	var missing, left []schema.Trigger
	for _, m := range c.moves {
		if !onOriginal[m.trigger.Name] {
			missing = append(missing, m.trigger)
		}
		if onShadow[m.trigger.Name] {
			left = append(left, m.trigger)
		}
	}
	var also, scripts strings.Builder
	if len(left) > 0 {
		fmt.Fprintf(&also, ", after dropping [%s] from the shadow %s", triggerList(left), mysql.QuoteTable(c.cfg.Database, c.cfg.Shadow))
	}
	for _, t := range missing {
		scripts.WriteString("\n" + t.Script(c.cfg.Table))
	}
	return &TriggersLostError{Err: fmt.Errorf("the triggers [%s] could not be put back on %s, which may be serving without them (%w); recreate the missing ones with the SQL below%s:%s",
		triggerList(missing), mysql.QuoteTable(c.cfg.Database, c.cfg.Table), err, also.String(), scripts.String())}
}

// TriggersLostError is a failed cut-over that moved triggers off the
// original and could not put them all back: the original serves, but
// without them, and the message holds the SQL to recreate them.
type TriggersLostError struct{ Err error }

func (e *TriggersLostError) Error() string { return e.Err.Error() }
func (e *TriggersLostError) Unwrap() error { return e.Err }

// triggerList is the quoted names, for messages.
func triggerList(ts []schema.Trigger) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = mysql.QuoteIdent(t.Name)
	}
	return strings.Join(names, ", ")
}

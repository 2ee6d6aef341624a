package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/state"
)

// SavedMigration is what the server holds of the migration of one table,
// for an operator who found no tailor answering for it (tailor status):
// the saved state an earlier run left, and what a resume would find.
// ReadSaved makes it; it only reads.
type SavedMigration struct {
	Database, Table string
	// StateTable is the name of the table that holds the saved state.
	StateTable string
	// Record is the saved state; nil when there is none, or when it is of
	// another format (Format).
	Record *state.Record
	// Format is set, instead of Record, for a saved state of another format
	// than this tailor reads.
	Format *state.FormatError
	// LockHolder is the server connection id of the session that holds the
	// table's migration lock, 0 when none does. A holder is a tailor that
	// is running the migration now, wherever it runs; Record is then as it
	// last saved it.
	LockHolder int64
	// TableExists says the original table exists.
	TableExists bool
	// Shadow and Old are the names this tailor gives the shadow and the
	// old table. ShadowExists says the shadow exists, ShadowMatches that
	// its definition is the saved one (with or without the deferred
	// indexes), as a resume requires; OldExists that the old table exists.
	Shadow, Old                 string
	ShadowExists, ShadowMatches bool
	OldExists                   bool
	// BinlogPresent says whether the binary log file of the saved position
	// is still on the server, as a resume requires; BinlogUnknown says why
	// it could not be told (SHOW BINARY LOGS needs REPLICATION CLIENT or
	// BINLOG MONITOR), and is empty when it could.
	BinlogPresent bool
	BinlogUnknown string
	// NotResumable says why tailor alter --resume would refuse the saved
	// migration, as a clause; empty when it would take it up, as far as can
	// be told without the ALTER (a resume also checks that the ALTER and
	// the copy key are the saved ones). Swapped says the reason is that
	// the earlier run swapped the tables before it stopped, so that there
	// is nothing left to do but drop the state. Finished says the saved
	// state is that of a migration that finished (phase done): the tables
	// were swapped, and the state was kept on purpose.
	NotResumable string
	Swapped      bool
	Finished     bool
}

// ReadSaved connects to the server and reads what it holds of the
// migration of database.table: the saved state, the migration lock, and
// the tables and binary log a resume needs. A server that cannot be
// reached is a KindConnect error, a database that does not exist and a
// table named like the state table that is not one are KindInvalid. It
// changes nothing.
func ReadSaved(ctx context.Context, conn mysql.ConnConfig, database, table string) (*SavedMigration, error) {
	conn.Database = database
	db, err := mysql.Open(ctx, conn)
	if err != nil {
		return nil, connectError(ctx, conn, err)
	}
	defer db.Close()
	store, err := state.New(db, database, table)
	if err != nil {
		return nil, invalid(err)
	}
	s := &SavedMigration{Database: database, Table: table, StateTable: store.Name(), Shadow: ShadowName(table), Old: OldName(table)}
	s.Record, err = store.Load(ctx)
	switch {
	case errors.As(err, &s.Format):
	case errors.Is(err, state.ErrNotState):
		return nil, invalid(fmt.Errorf("a table named %s exists in %s and is not a tailor state table, so no saved migration of %s can be there; rename or drop it", mysql.QuoteIdent(store.Name()), mysql.QuoteIdent(database), mysql.QuoteIdent(table)))
	case err != nil:
		return nil, fmt.Errorf("read the saved state: %w", err)
	}
	var holder sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT IS_USED_LOCK(?)", lockName(database, table)).Scan(&holder); err != nil {
		return nil, fmt.Errorf("look up the migration lock: %w", err)
	}
	s.LockHolder = holder.Int64
	present := func(name string) (bool, error) {
		var n int
		err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", database, name).Scan(&n)
		if err != nil {
			return false, fmt.Errorf("look up table %s: %w", name, err)
		}
		return n > 0, nil
	}
	for _, t := range []struct {
		name   string
		exists *bool
	}{{table, &s.TableExists}, {s.Shadow, &s.ShadowExists}, {s.Old, &s.OldExists}} {
		if *t.exists, err = present(t.name); err != nil {
			return nil, err
		}
	}
	if s.Record == nil {
		return s, nil
	}
	if s.ShadowExists && s.Record.Shadow == s.Shadow {
		def, err := showCreateTable(ctx, db, database, s.Shadow)
		if err != nil {
			return nil, err
		}
		s.ShadowMatches = sameShadow(def, s.Record.ShadowDefinition, s.Record.DeferredIndexes)
	}
	if file := s.Record.Position.File; file != "" {
		if s.BinlogPresent, err = binlogPresent(ctx, db, file); err != nil {
			s.BinlogUnknown = err.Error()
		}
	}
	s.Finished = s.Record.Phase == PhaseDone.String()
	s.NotResumable, s.Swapped = s.resumeRefusal()
	return s, nil
}

// resumeRefusal is why a resume would refuse the saved migration, in the
// order checkResumable checks it, and whether the earlier run swapped the
// tables; "" when it would not refuse.
func (s *SavedMigration) resumeRefusal() (string, bool) {
	rec := s.Record
	switch {
	case s.Finished:
		return "it finished: the tables were swapped", false
	case rec.Shadow != s.Shadow:
		return fmt.Sprintf("it copies into %s, and this tailor names the shadow %s", mysql.QuoteIdent(rec.Shadow), mysql.QuoteIdent(s.Shadow)), false
	case !s.ShadowExists && s.OldExists:
		return fmt.Sprintf("its shadow table is gone and %s exists: the earlier run swapped the tables before it stopped", mysql.QuoteIdent(s.Old)), true
	case !s.ShadowExists:
		return fmt.Sprintf("its shadow table %s does not exist any more", mysql.QuoteIdent(s.Shadow)), false
	case !s.ShadowMatches:
		return fmt.Sprintf("the table %s is not its shadow: the definition differs from the one the saved state recorded", mysql.QuoteIdent(s.Shadow)), false
	case rec.Position.IsZero():
		return "it has no binary log position to continue from", false
	case !s.BinlogPresent && s.BinlogUnknown == "":
		return fmt.Sprintf("the binary log %s, from which it must apply the changes made since it stopped, is no longer on the server (purged)", rec.Position.File), false
	}
	return "", false
}

package migrate

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/state"
	"github.com/tailor-osc/tailor/internal/workload"
)

// TestReadSaved reads what the server holds of a migration, as tailor
// status does when no tailor answers: nothing; a copy stopped midway; then
// each thing a resume would refuse, one at a time; the migration lock of a
// run elsewhere; and the errors of a server or database that is not there.
func TestReadSaved(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", 2_000); err != nil {
		t.Fatal(err)
	}
	read := func() *SavedMigration {
		t.Helper()
		s, err := ReadSaved(ctx, sbx.Conn(""), dbName, "orders")
		if err != nil {
			t.Fatalf("ReadSaved: %v", err)
		}
		return s
	}
	if s := read(); s.Record != nil || s.Format != nil || !s.TableExists || s.ShadowExists || s.LockHolder != 0 || s.StateTable != "orders_tailor_state" {
		t.Fatalf("before any migration: %+v", s)
	}

	cfg := testConfig(t, dbName, "orders", "ADD COLUMN refunded_at DATETIME(6) NULL")
	cfg.ChunkSize = 200
	cfg.testHooks = &testHooks{stopAfterChunk: func(seq int) error {
		if seq == 3 {
			return errStopped
		}
		return nil
	}}
	_, err := runMigration(ctx, t, cfg)
	wantKind(t, err, KindResumable, "stopped by the test")
	s := read()
	if rec := s.Record; rec == nil || rec.Phase != "copy" || rec.RowsCopied == 0 || rec.CopyDone || rec.LowWatermark == nil {
		t.Fatalf("saved state of a copy stopped midway: %+v", rec)
	}
	if !s.ShadowExists || !s.ShadowMatches || s.OldExists || !s.BinlogPresent || s.BinlogUnknown != "" || s.NotResumable != "" || s.Swapped || s.Finished {
		t.Errorf("a resumable migration: %+v", s)
	}

	for _, c := range []struct {
		name, change, undo string
		want               string
	}{
		{"purged binary log", "UPDATE orders_tailor_state SET binlog_file = 'gone-bin.000001'", "UPDATE orders_tailor_state SET binlog_file = '" + s.Record.Position.File + "'", "gone-bin.000001, from which"},
		{"another shadow", "ALTER TABLE orders_tailor_new ADD COLUMN zz INT NULL", "ALTER TABLE orders_tailor_new DROP COLUMN zz", "is not its shadow"},
		{"no shadow", "RENAME TABLE orders_tailor_new TO kept", "RENAME TABLE kept TO orders_tailor_new", "`orders_tailor_new` does not exist any more"},
		{"swapped", "RENAME TABLE orders_tailor_new TO orders_tailor_old", "RENAME TABLE orders_tailor_old TO orders_tailor_new", "swapped the tables"},
	} {
		mustExec(t, db, c.change)
		s := read()
		if !strings.Contains(s.NotResumable, c.want) || s.Swapped != (c.name == "swapped") {
			t.Errorf("%s: not resumable because %q (swapped %v), want it to say %q", c.name, s.NotResumable, s.Swapped, c.want)
		}
		mustExec(t, db, c.undo)
	}
	if s := read(); s.NotResumable != "" {
		t.Fatalf("after undoing every change: not resumable because %q", s.NotResumable)
	}

	mustExec(t, db, "UPDATE orders_tailor_state SET format_version = 99")
	if s := read(); s.Record != nil || s.Format == nil || s.Format.Found != 99 || s.Format.Want != state.FormatVersion {
		t.Errorf("a state of format 99: record %+v, format %+v", s.Record, s.Format)
	}
	mustExec(t, db, "UPDATE orders_tailor_state SET format_version = ?", state.FormatVersion)

	// A run elsewhere holds the migration lock.
	lock, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "DO GET_LOCK(?, 0)", lockName(dbName, "orders")); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := lock.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if s := read(); s.LockHolder != id {
		t.Errorf("lock holder %d, want connection %d", s.LockHolder, id)
	}
	if _, err := lock.ExecContext(ctx, "DO RELEASE_LOCK(?)", lockName(dbName, "orders")); err != nil {
		t.Fatal(err)
	}

	mustExec(t, db, "CREATE TABLE other_tailor_state (id INT PRIMARY KEY)")
	_, err = ReadSaved(ctx, sbx.Conn(""), dbName, "other")
	wantKind(t, err, KindInvalid, "`other_tailor_state`", "not a tailor state table")
	_, err = ReadSaved(ctx, sbx.Conn(""), dbName+"_missing", "orders")
	wantKind(t, err, KindInvalid, "does not exist", "--database")
	conn := sbx.Conn("")
	conn.Port = 1
	_, err = ReadSaved(ctx, conn, dbName, "orders")
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindConnect {
		t.Errorf("a server out of reach: %v, want a connect error", err)
	}
}

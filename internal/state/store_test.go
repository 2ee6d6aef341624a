package state

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/mysql"
)

// newStore makes a store for table in a fresh database, and the original
// table itself.
func newStore(t *testing.T, table string) (*Store, func(string, ...any)) {
	t.Helper()
	db, database := sbx.NewDatabase(t)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("CREATE TABLE " + mysql.QuoteTable(database, table) + " (id bigint unsigned NOT NULL PRIMARY KEY)")
	s, err := New(db, database, table)
	if err != nil {
		t.Fatal(err)
	}
	return s, exec
}

// sampleRecord is a record with every field set.
func sampleRecord(runID string) *Record {
	return &Record{
		TailorVersion: "v0.test",
		RunID:         runID,
		Alter:         "ADD COLUMN `note` varchar(10) COMMENT 'it''s <new>', ADD INDEX k (b)",
		Shadow:        "orders_tailor_new",
		Phase:         "copy",
		KeyColumns:    []string{"a", "b`c", "☃"},
		LowWatermark:  []any{uint64(math.MaxUint64), []byte{0, 0xff, 'x'}, capture.Text{0xe9}, "é", int64(-1), time.Unix(8, 123000).UTC(), nil},
		RowsCopied:    1234,
		Position:      capture.Position{File: "mariadb-bin.000012", Pos: math.MaxUint32},
		GTID:          "0-1-42,1-2-7",
		DeferredIndexes: []string{
			"ADD INDEX `k` (`b`)",
			"ADD UNIQUE KEY `u` (`c`(10)) COMMENT 'a > b'",
		},
		StartedAt: time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("", 3600)),
		Note:      "line one\nline two: 'quoted' \\ backslash",
	}
}

// equalRecords compares records, the low-watermark value by value (see
// sameValue).
func equalRecords(t *testing.T, got, want *Record) {
	t.Helper()
	if got == nil {
		t.Fatal("no record loaded")
	}
	g, w := *got, *want
	if len(g.LowWatermark) != len(w.LowWatermark) || (g.LowWatermark == nil) != (w.LowWatermark == nil) {
		t.Errorf("low-watermark %#v, want %#v", g.LowWatermark, w.LowWatermark)
	} else {
		for i := range w.LowWatermark {
			if !sameValue(g.LowWatermark[i], w.LowWatermark[i]) {
				t.Errorf("low-watermark value %d: %#v, want %#v", i, g.LowWatermark[i], w.LowWatermark[i])
			}
		}
	}
	g.LowWatermark, w.LowWatermark = nil, nil
	if !reflect.DeepEqual(g, w) {
		t.Errorf("loaded\n%+v\nwant\n%+v", g, w)
	}
}

func TestCreateLoadSave(t *testing.T) {
	s, _ := newStore(t, "orders")
	ctx := context.Background()
	if got, err := s.Load(ctx); got != nil || err != nil {
		t.Fatalf("Load before Create = %+v, %v; want nil, nil", got, err)
	}
	rec := sampleRecord("run-a")
	before := time.Now()
	if err := s.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if rec.FormatVersion != FormatVersion || rec.Database == "" || rec.Table != "orders" {
		t.Errorf("Create did not fill in the format and the table: %+v", rec)
	}
	if !rec.StartedAt.Equal(time.Date(2024, 5, 6, 6, 8, 9, 123456000, time.UTC)) || rec.StartedAt.Location() != time.UTC {
		t.Errorf("StartedAt = %v, want the given time in UTC to the microsecond", rec.StartedAt)
	}
	if rec.UpdatedAt.Before(before.Add(-time.Second)) || rec.UpdatedAt.After(time.Now().Add(time.Second)) {
		t.Errorf("UpdatedAt = %v, want about now", rec.UpdatedAt)
	}
	got, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, rec)

	// A checkpoint: progress moves on.
	rec.Phase = "build-indexes"
	rec.LowWatermark = []any{int64(99)}
	rec.RowsCopied = 5000
	rec.Position = capture.Position{File: "mariadb-bin.000013", Pos: 4}
	rec.GTID = ""
	rec.DeferredIndexes = rec.DeferredIndexes[1:]
	rec.ChecksumPassed = true
	rec.CopyDone = true
	rec.Note = strings.Repeat("ü", maxNote) // cut to maxNote bytes
	rec.TailorVersion = "v0.test2"
	if err := s.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// The same record again at once: the server may count no changed row.
	if err := s.Save(ctx, rec); err != nil {
		t.Fatalf("a second Save of the same record: %v", err)
	}
	got, err = s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := *rec
	want.Note = strings.Repeat("ü", maxNote/2)
	equalRecords(t, got, &want)

	// Nil low-watermark and empty lists come back as nil.
	rec.LowWatermark, rec.DeferredIndexes, rec.KeyColumns, rec.Note = nil, nil, nil, ""
	if err := s.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if got, err = s.Load(ctx); err != nil {
		t.Fatal(err)
	}
	equalRecords(t, got, rec)

	// A second Create is refused while the record exists.
	err = s.Create(ctx, sampleRecord("run-b"))
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "run-a") {
		t.Errorf("Create over an existing record: %v, want ErrExists naming run-a", err)
	}

	if err := s.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx); got != nil || err != nil {
		t.Errorf("Load after Drop = %+v, %v; want nil, nil", got, err)
	}
	if err := s.Drop(ctx); err != nil {
		t.Errorf("Drop of no table: %v", err)
	}
}

func TestSaveRefusedAfterTakeOver(t *testing.T) {
	s, _ := newStore(t, "orders")
	ctx := context.Background()
	a := sampleRecord("run-a")
	if err := s.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := s.TakeOver(ctx, "run-a", "run-b"); err != nil {
		t.Fatal(err)
	}
	a.Phase = "checksum"
	err := s.Save(ctx, a)
	var owner *OwnerError
	if !errors.As(err, &owner) || owner.Owner != "run-b" || owner.RunID != "run-a" {
		t.Fatalf("Save by the run taken over: %v, want an *OwnerError naming run-b", err)
	}
	b, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b.RunID != "run-b" || b.Phase != "copy" {
		t.Errorf("after the refused Save the record is run %s in phase %s, want run-b in copy", b.RunID, b.Phase)
	}
	b.Phase = "cut-over"
	if err := s.Save(ctx, b); err != nil {
		t.Fatalf("Save by the new owner: %v", err)
	}
	// A TakeOver whose answer was lost is retried: it succeeds.
	if err := s.TakeOver(ctx, "run-a", "run-b"); err != nil {
		t.Errorf("TakeOver retried by its own run: %v", err)
	}
	// A third run cannot take over from the first: the second has it.
	err = s.TakeOver(ctx, "run-a", "run-c")
	if !errors.As(err, &owner) || owner.Owner != "run-b" {
		t.Errorf("TakeOver from a run that no longer owns the record: %v, want an *OwnerError naming run-b", err)
	}
	if got, err := s.Load(ctx); err != nil || got.RunID != "run-b" || got.Phase != "cut-over" {
		t.Errorf("Load = %+v, %v; want run-b in cut-over", got, err)
	}
}

// TestLoadFormat1 reads a record a tailor of format 1 wrote (its table
// has no time_zone column) as one converted in +00:00, which is what
// those runs did, and a run taking it over gives the table the column, so
// that it can save the record; nothing else of the record changes.
func TestLoadFormat1(t *testing.T) {
	s, exec := newStore(t, "orders")
	ctx := context.Background()
	want := sampleRecord("run-a")
	want.TimeZone = "SYSTEM"
	if err := s.Create(ctx, want); err != nil {
		t.Fatal(err)
	}
	exec("ALTER TABLE " + s.quoted() + " DROP COLUMN time_zone")
	exec("UPDATE " + s.quoted() + " SET format_version = 1")
	got, err := s.Load(ctx)
	if err != nil {
		t.Fatalf("Load of format 1: %v", err)
	}
	if got.FormatVersion != 1 || got.TimeZone != "+00:00" {
		t.Errorf("format %d, time zone %q; want 1 and +00:00", got.FormatVersion, got.TimeZone)
	}
	got.FormatVersion, got.TimeZone = want.FormatVersion, want.TimeZone
	equalRecords(t, got, want)

	// Another run's record is not upgraded.
	var oe *OwnerError
	if err := s.TakeOver(ctx, "run-x", "run-y"); !errors.As(err, &oe) {
		t.Fatalf("TakeOver of another run's record: %v, want an *OwnerError", err)
	}
	if h, err := s.head(ctx); err != nil || h.format != 1 {
		t.Fatalf("another run's take-over changed the format: %+v, %v", h, err)
	}
	// A session that holds the table (a transaction that read it) makes
	// the upgrade give up after its lock wait, not hang; nothing changed.
	holder, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := holder.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.quoted()).Scan(&n); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	err = s.TakeOver(ctx, "run-a", "run-b")
	waited := time.Since(began)
	_ = holder.Rollback()
	if err == nil || !strings.Contains(err.Error(), "another session may hold the table") || waited > 4*upgradeLockWait*time.Second {
		t.Fatalf("TakeOver while the table is held: %v after %v, want it to give up after about %ds", err, waited, upgradeLockWait)
	}
	if h, err := s.head(ctx); err != nil || h.format != 1 || h.runID != "run-a" {
		t.Fatalf("a given-up upgrade changed the record: %+v, %v", h, err)
	}
	// An upgrade stopped after its first statement is finished by the
	// next take-over.
	exec(upgradeSQL(s.database, s.name)[0])
	if err := s.TakeOver(ctx, "run-a", "run-b"); err != nil {
		t.Fatalf("TakeOver of format 1: %v", err)
	}
	after, err := s.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.FormatVersion != FormatVersion || after.TimeZone != "+00:00" || after.RunID != "run-b" {
		t.Errorf("after the take-over: format %d, zone %q, run %q; want %d, +00:00, run-b", after.FormatVersion, after.TimeZone, after.RunID, FormatVersion)
	}
	after.Note = "saved by the new run"
	if err := s.Save(ctx, after); err != nil {
		t.Fatalf("Save after the upgrade: %v", err)
	}
}

func TestLoadOtherFormat(t *testing.T) {
	t.Run("bumped version", func(t *testing.T) {
		s, exec := newStore(t, "orders")
		ctx := context.Background()
		if err := s.Create(ctx, sampleRecord("run-a")); err != nil {
			t.Fatal(err)
		}
		exec("UPDATE "+s.quoted()+" SET format_version = ?, tailor_version = 'v9'", FormatVersion+1)
		_, err := s.Load(ctx)
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Found != FormatVersion+1 || fe.Want != FormatVersion || fe.TailorVersion != "v9" {
			t.Fatalf("Load of a newer format: %v, want a *FormatError", err)
		}
		if err := s.TakeOver(ctx, "run-a", "run-b"); !errors.As(err, &fe) {
			t.Errorf("TakeOver of a newer format: %v, want a *FormatError", err)
		}
	})
	t.Run("other layout", func(t *testing.T) {
		// A future format with other columns: only the permanent ones are
		// read before the format is judged.
		s, exec := newStore(t, "orders")
		exec("CREATE TABLE " + s.quoted() + " (format_version int NOT NULL, tailor_version varchar(64) NOT NULL, run_id varchar(64) NOT NULL, progress json) COMMENT='" + tableComment + "'")
		exec("INSERT INTO " + s.quoted() + " VALUES (0, 'v0.0.1', 'old', '{}')")
		_, err := s.Load(context.Background())
		var fe *FormatError
		if !errors.As(err, &fe) || fe.Found != 0 {
			t.Fatalf("Load of another layout: %v, want a *FormatError", err)
		}
		for _, part := range []string{"format 0", "tailor v0.0.1", fmt.Sprintf("reads format %d", FormatVersion)} {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("the error %q does not say %q", err, part)
			}
		}
	})
}

func TestMissingRecord(t *testing.T) {
	s, exec := newStore(t, "orders")
	ctx := context.Background()
	rec := sampleRecord("run-a")
	if err := s.Save(ctx, rec); !errors.Is(err, ErrNoRecord) {
		t.Errorf("Save without a table: %v, want ErrNoRecord", err)
	}
	if err := s.TakeOver(ctx, "run-a", "run-b"); !errors.Is(err, ErrNoRecord) {
		t.Errorf("TakeOver without a table: %v, want ErrNoRecord", err)
	}
	if err := s.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	exec("DELETE FROM " + s.quoted())
	if got, err := s.Load(ctx); got != nil || err != nil {
		t.Errorf("Load of an empty table = %+v, %v; want nil, nil", got, err)
	}
	if err := s.Save(ctx, rec); !errors.Is(err, ErrNoRecord) {
		t.Errorf("Save without a row: %v, want ErrNoRecord", err)
	}
	if err := s.TakeOver(ctx, "run-a", "run-b"); !errors.Is(err, ErrNoRecord) {
		t.Errorf("TakeOver without a row: %v, want ErrNoRecord", err)
	}
	// Create into the existing, empty table.
	if err := s.Create(ctx, sampleRecord("run-c")); err != nil {
		t.Fatalf("Create into an empty state table: %v", err)
	}
}

func TestNotAStateTable(t *testing.T) {
	s, exec := newStore(t, "orders")
	ctx := context.Background()
	exec("CREATE TABLE " + s.quoted() + " (id int PRIMARY KEY, payload text)")
	exec("INSERT INTO " + s.quoted() + " VALUES (1, 'mine')")
	if _, err := s.Load(ctx); !errors.Is(err, ErrNotState) {
		t.Errorf("Load: %v, want ErrNotState", err)
	}
	if err := s.Create(ctx, sampleRecord("run-a")); !errors.Is(err, ErrNotState) {
		t.Errorf("Create: %v, want ErrNotState", err)
	}
	if err := s.Drop(ctx); !errors.Is(err, ErrNotState) {
		t.Errorf("Drop: %v, want ErrNotState", err)
	}
	var n int
	if err := s.db.QueryRow("SELECT COUNT(*) FROM " + s.quoted()).Scan(&n); err != nil || n != 1 {
		t.Errorf("the table is not as it was: %d rows, %v", n, err)
	}
}

func TestRecordOfAnotherTable(t *testing.T) {
	s, _ := newStore(t, "orders")
	rec := sampleRecord("run-a")
	rec.Database, rec.Table = "other", "orders"
	if err := s.Create(context.Background(), rec); err == nil {
		t.Error("Create of another table's record succeeded")
	}
	rec = sampleRecord("run-a")
	rec.Alter = "\xff"
	if err := s.Create(context.Background(), rec); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("Create of a record with invalid UTF-8: %v, want a refusal", err)
	}
}

// TestQuotedNames runs the whole life of a state in a database and a table
// whose names need quoting: backticks, spaces, letters beyond ASCII, and a
// name so long its state table's name is cut.
func TestQuotedNames(t *testing.T) {
	db, base := sbx.NewDatabase(t)
	ctx := context.Background()
	database := base + "`ö b"
	if _, err := db.Exec("CREATE DATABASE " + mysql.QuoteIdent(database)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = db.Exec("DROP DATABASE IF EXISTS " + mysql.QuoteIdent(database)) })
	for _, table := range []string{"ta`ble ☃ é", strings.Repeat("ľ", 60) + "`x`"} {
		if _, err := db.Exec("CREATE TABLE " + mysql.QuoteTable(database, table) + " (id int PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		s, err := New(db, database, table)
		if err != nil {
			t.Fatal(err)
		}
		rec := sampleRecord("run-a")
		if err := s.Create(ctx, rec); err != nil {
			t.Fatal(err)
		}
		var name string
		if err := db.QueryRow("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", database, s.Name()).Scan(&name); err != nil {
			t.Fatalf("state table %q not found: %v", s.Name(), err)
		}
		got, err := s.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		equalRecords(t, got, rec)
		if got.Table != table || got.Database != database {
			t.Errorf("record of %q.%q, want %q.%q", got.Database, got.Table, database, table)
		}
		rec.Phase = "done"
		if err := s.Save(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if err := s.TakeOver(ctx, "run-a", "run-b"); err != nil {
			t.Fatal(err)
		}
		if err := s.Drop(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Load(ctx); got != nil || err != nil {
			t.Errorf("Load after Drop = %+v, %v", got, err)
		}
	}
}

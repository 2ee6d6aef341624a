package history

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

func sha(c byte) string { return strings.Repeat(string(c), 64) }

// TestRoundTrip follows a file through a failure and its resume, and a
// repeatable file through a clean run.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	db, database := sbx.NewDatabase(t)
	s, err := Open(ctx, db, database)
	if err != nil {
		t.Fatal(err)
	}
	// A second Open finds the table and keeps it.
	if s, err = Open(ctx, db, database); err != nil {
		t.Fatal(err)
	}
	if entries, err := s.List(ctx); err != nil || len(entries) != 0 {
		t.Fatalf("List on a new table = %v, %v", entries, err)
	}

	before := time.Now().UTC().Add(-time.Second)
	id, err := s.Begin(ctx, FileInfo{Version: "1.10", Description: "add it's \"note\"", Type: Versioned,
		Script: "V1_10__add_it's_\"note\".sql", Checksum: sha('a'), StatementsTotal: 3})
	if err != nil {
		t.Fatal(err)
	}
	first := StatementResult{Index: 0, Checksum: sha('b'), Strategy: NativeInstant, Outcome: OutcomeApplied, ExecutionMS: 5}
	failed := StatementResult{Index: 1, Checksum: sha('c'), Strategy: OnlineCopy, Outcome: OutcomeFailed, Error: "Duplicate entry '1' for key 'u'", ExecutionMS: 70}
	for _, r := range []StatementResult{first, failed} {
		if err := s.StatementDone(ctx, id, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(ctx, id, Failed, 1500*time.Millisecond, "statement 2: Duplicate entry"); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if e.State != Failed || e.StatementsDone != 1 || e.StatementsTotal != 3 || e.Error != "statement 2: Duplicate entry" ||
		e.ExecutionTime != 1500*time.Millisecond || !reflect.DeepEqual(e.Statements, []StatementResult{first, failed}) {
		t.Errorf("after the failure: %+v", e)
	}
	if e.Version != "1.10" || e.Type != Versioned || e.Description != "add it's \"note\"" || e.Script != "V1_10__add_it's_\"note\".sql" || e.Checksum != sha('a') {
		t.Errorf("file fields: %+v", e)
	}
	if !strings.Contains(e.InstalledBy, "@") {
		t.Errorf("installed_by = %q, want user@host", e.InstalledBy)
	}
	if e.InstalledOn.Before(before) || e.InstalledOn.After(time.Now().UTC().Add(time.Second)) {
		t.Errorf("installed_on = %v, not about now (%v)", e.InstalledOn, before)
	}

	// The fixed run resumes at statements_done.
	if err := s.Resume(ctx, id); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.Get(ctx, id); e.State != Running || e.Error != "" || e.StatementsDone != 1 {
		t.Errorf("after Resume: %+v", e)
	}
	second := StatementResult{Index: 1, Checksum: sha('c'), Strategy: OnlineCopy, Outcome: OutcomeApplied, ExecutionMS: 90}
	third := StatementResult{Index: 2, Checksum: sha('d'), Strategy: Direct, Outcome: OutcomeApplied}
	for _, r := range []StatementResult{second, third} {
		if err := s.StatementDone(ctx, id, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Finish(ctx, id, Applied, 500*time.Millisecond, ""); err != nil {
		t.Fatal(err)
	}

	rid, err := s.Begin(ctx, FileInfo{Description: "views", Type: Repeatable, Script: "R__views.sql", Checksum: sha('e'), StatementsTotal: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rid <= id {
		t.Errorf("installed_rank %d after %d", rid, id)
	}
	if err := s.StatementDone(ctx, rid, StatementResult{Index: 0, Checksum: sha('f'), Strategy: Direct, Outcome: OutcomeApplied}); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, rid, Applied, time.Millisecond, ""); err != nil {
		t.Fatal(err)
	}

	entries, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("%d entries, want 2", len(entries))
	}
	v, r := entries[0], entries[1]
	if v.InstalledRank != id || v.State != Applied || v.StatementsDone != 3 || v.ExecutionTime != 2*time.Second ||
		!reflect.DeepEqual(v.Statements, []StatementResult{first, second, third}) || v.Error != "" {
		t.Errorf("versioned entry: %+v", v)
	}
	if r.InstalledRank != rid || r.Version != "" || r.Type != Repeatable || r.State != Applied || r.StatementsDone != 1 {
		t.Errorf("repeatable entry: %+v", r)
	}
	var nullVersion bool
	if err := db.QueryRow("SELECT version IS NULL FROM "+mysql.QuoteTable(database, TableName)+" WHERE installed_rank = ?", rid).Scan(&nullVersion); err != nil || !nullVersion {
		t.Errorf("a repeatable's version is not NULL (%v)", err)
	}
}

func TestStoreErrors(t *testing.T) {
	ctx := context.Background()
	db, database := sbx.NewDatabase(t)
	s, err := Open(ctx, db, database)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StatementDone(ctx, 42, StatementResult{Index: 0, Outcome: OutcomeApplied}); !errors.Is(err, ErrNoRow) {
		t.Errorf("StatementDone on a missing row: %v", err)
	}
	if err := s.Finish(ctx, 42, Applied, 0, ""); !errors.Is(err, ErrNoRow) {
		t.Errorf("Finish on a missing row: %v", err)
	}
	id, err := s.Begin(ctx, FileInfo{Version: "1", Type: Versioned, Script: "V1__a.sql", Checksum: sha('a'), StatementsTotal: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.StatementDone(ctx, id, StatementResult{Index: 1, Outcome: OutcomeApplied}); err == nil || !strings.Contains(err.Error(), "outside the file's 1 statements") {
		t.Errorf("StatementDone past the last statement: %v", err)
	}
	if err := s.Finish(ctx, id, Running, 0, ""); err == nil {
		t.Error("Finish in state running passed")
	}
	// A Finish that changes nothing is not a missing row.
	for range 2 {
		if err := s.Finish(ctx, id, Applied, 0, ""); err != nil {
			t.Errorf("Finish: %v", err)
		}
	}
}

// TestOpenOtherTable: a table of the history's name that is not the
// history is refused, not written into.
func TestOpenOtherTable(t *testing.T) {
	ctx := context.Background()
	db, database := sbx.NewDatabase(t)
	if _, err := db.Exec("CREATE TABLE " + mysql.QuoteTable(database, TableName) + " (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, db, database)
	if !errors.Is(err, ErrNotHistory) || !strings.Contains(err.Error(), "does not have the columns of tailor's history") {
		t.Errorf("Open over another table: %v", err)
	}
}

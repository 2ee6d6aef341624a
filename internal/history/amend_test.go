package history

import (
	"context"
	"errors"
	"testing"
)

// TestAmend records a mended file's checksum and statement count on its
// row, and refuses a row that does not exist.
func TestAmend(t *testing.T) {
	ctx := context.Background()
	db, database := sbx.NewDatabase(t)
	s, err := Open(ctx, db, database)
	if err != nil {
		t.Fatal(err)
	}
	id, err := s.Begin(ctx, FileInfo{Version: "2", Description: "d", Type: Versioned, Script: "V2__d.sql", Checksum: sha('a'), StatementsTotal: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Amend(ctx, id, sha('b'), 4); err != nil {
		t.Fatal(err)
	}
	e, err := s.Get(ctx, id)
	if err != nil || e.Checksum != sha('b') || e.StatementsTotal != 4 {
		t.Fatalf("after Amend: %+v, %v", e, err)
	}
	if err := s.Amend(ctx, id, sha('b'), 4); err != nil {
		t.Errorf("Amend to the same values: %v", err)
	}
	if err := s.Amend(ctx, id+100, sha('c'), 1); !errors.Is(err, ErrNoRow) {
		t.Errorf("Amend of a missing row = %v", err)
	}
	if err := s.Amend(ctx, id, "short", 1); err == nil {
		t.Error("Amend took a checksum that is not a sha256")
	}
}

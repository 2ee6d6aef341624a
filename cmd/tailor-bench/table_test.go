package main

import (
	"context"
	"testing"

	"github.com/tailor-osc/tailor/internal/sandbox"
)

// TestTextKeyTemplate: the template with the text key holds, for every
// row, the uid that the load computes for its id, and a template of the
// other key is made anew rather than reused.
func TestTextKeyTemplate(t *testing.T) {
	sandbox.Need(t, sbx)
	db, _ := sbx.NewDatabase(t)
	ctx := context.Background()
	if filled, err := prepareTemplate(ctx, db, 300, keyInt); err != nil || !filled {
		t.Fatalf("the int template: filled %v, %v", filled, err)
	}
	if filled, err := prepareTemplate(ctx, db, 300, keyText); err != nil || !filled {
		t.Fatalf("the text template after the int one: filled %v, %v (want it made anew)", filled, err)
	}
	if filled, err := prepareTemplate(ctx, db, 300, keyText); err != nil || filled {
		t.Fatalf("the text template again: filled %v, %v (want it reused)", filled, err)
	}
	rows, err := db.QueryContext(ctx, "SELECT id, uid FROM "+templateTable)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id int64
		var uid string
		if err := rows.Scan(&id, &uid); err != nil {
			t.Fatal(err)
		}
		if want := uidOf(id); uid != want {
			t.Errorf("row %d: uid %s, the load's %s", id, uid, want)
		}
		n++
	}
	if err := rows.Err(); err != nil || n != 300 {
		t.Errorf("%d rows (%v), want 300", n, err)
	}
}

package main

import (
	"context"
	"fmt"
	"testing"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// TestKeyTemplates: a template with the text or the ENUM key holds, for
// every row, the key column's value that the load computes for its id,
// and a template of another key is made anew rather than reused.
func TestKeyTemplates(t *testing.T) {
	sandbox.Need(t, sbx)
	db, _ := sbx.NewDatabase(t)
	ctx := context.Background()
	if filled, err := prepareTemplate(ctx, db, 300, keyInt); err != nil || !filled {
		t.Fatalf("the int template: filled %v, %v", filled, err)
	}
	for _, key := range []string{keyText, keyEnum} {
		if filled, err := prepareTemplate(ctx, db, 300, key); err != nil || !filled {
			t.Fatalf("the %s template after another: filled %v, %v (want it made anew)", key, filled, err)
		}
		if filled, err := prepareTemplate(ctx, db, 300, key); err != nil || filled {
			t.Fatalf("the %s template again: filled %v, %v (want it reused)", key, filled, err)
		}
		name, _, inGo := keyColumn(key)
		rows, err := db.QueryContext(ctx, "SELECT id, "+mysql.QuoteIdent(name)+" FROM "+templateTable)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var id int64
			var got string
			if err := rows.Scan(&id, &got); err != nil {
				t.Fatal(err)
			}
			if want := fmt.Sprint(inGo(id)); got != want {
				t.Errorf("%s key, row %d: %s %s, the load's %s", key, id, name, got, want)
			}
			n++
		}
		if err := rows.Err(); err != nil || n != 300 {
			t.Errorf("%s key: %d rows (%v), want 300", key, n, err)
		}
		rows.Close()
	}
}

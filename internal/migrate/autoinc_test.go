package migrate

import (
	"context"
	"database/sql"
	"testing"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// The new table's AUTO_INCREMENT counter is at least the original's at the
// swap (issue 11): an id the application was handed once is never handed
// out again, whether its row was deleted before the migration or its
// insert rolled back during it; a counter the ALTER sets higher wins.
func TestAutoIncrementCarried(t *testing.T) {
	cases := []struct {
		name, alter string
		during      func(t *testing.T, db *sql.DB)
		want        int64 // the id the next insert gets
	}{
		{"last rows deleted", "ADD COLUMN x INT NULL", nil, 8},
		{"inserts rolled back during the copy", "ADD COLUMN x INT NULL", func(t *testing.T, db *sql.DB) {
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			for range 5 {
				if _, err := tx.Exec("INSERT INTO t (v) VALUES (0)"); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Rollback(); err != nil {
				t.Fatal(err)
			}
		}, 13},
		{"the ALTER sets a higher counter", "ADD COLUMN x INT NULL, AUTO_INCREMENT = 100", nil, 100},
		{"the ALTER sets a lower counter", "ADD COLUMN x INT NULL, AUTO_INCREMENT = 2", nil, 8},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			ctx := context.Background()
			mustExec(t, db, "CREATE TABLE t (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, v INT) ENGINE=InnoDB")
			mustExec(t, db, "INSERT INTO t (v) VALUES (1), (2), (3), (4), (5), (6), (7)")
			mustExec(t, db, "DELETE FROM t WHERE id >= 5") // the counter stays at 8
			cfg := testConfig(t, dbName, "t", c.alter)
			if c.during != nil {
				cfg.testHooks = &testHooks{beforeCutOver: func() { c.during(t, db) }}
			}
			if _, err := runMigration(ctx, t, cfg); err != nil {
				t.Fatal(err)
			}
			res, err := db.Exec("INSERT INTO " + mysql.QuoteTable(dbName, "t") + " (v) VALUES (42)")
			if err != nil {
				t.Fatal(err)
			}
			if id, _ := res.LastInsertId(); id != c.want {
				t.Errorf("the next insert got id %d, want %d\n%s", id, c.want, showCreate(t, db, dbName, "t"))
			}
		})
	}
}

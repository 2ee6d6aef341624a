package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/tailor-osc/tailor/internal/workload"
)

// enumWriter writes, in a session without strict mode (where a string that
// is no member stores an ENUM's error value, index 0), the same
// transactions to the table and its control table: inserts, updates and
// deletes whose ENUM values are members, the empty member, the error value or
// NULL.
type enumWriter struct {
	conn   *sql.Conn
	table  string
	mu     sync.Mutex
	rng    *rand.Rand
	nextID int
	writes int
}

// value is a random value for an ENUM of an empty member, 'a' and 'b' (in
// some order): 'bad' is none of them.
func (w *enumWriter) value(nullable bool) any {
	switch n := w.rng.IntN(5); {
	case n == 4 && nullable:
		return nil
	case n >= 3:
		return "bad"
	default:
		return []string{"", "a", "b"}[n]
	}
}

func (w *enumWriter) write(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var q string
	var args []any
	switch op := w.rng.IntN(10); {
	case op < 3:
		w.nextID++
		q, args = "INSERT INTO %s (id, k, e, g, v) VALUES (?, ?, ?, ?, ?)", []any{w.nextID, w.value(false), w.value(false), w.value(true), fmt.Sprintf("v%d", w.nextID)}
	case op < 7:
		q, args = "UPDATE %s SET e = ?, g = ?, v = CONCAT(v, '.') WHERE id = ?", []any{w.value(false), w.value(true), 1 + w.rng.IntN(w.nextID)}
	case op < 9:
		// The copy key's ENUM: the row moves in the key.
		q, args = "UPDATE %s SET k = ?, v = CONCAT(v, 'k') WHERE id = ?", []any{w.value(false), 1 + w.rng.IntN(w.nextID)}
	default:
		q, args = "DELETE FROM %s WHERE id = ?", []any{1 + w.rng.IntN(w.nextID)}
	}
	if err := toBoth(ctx, w.conn, w.table, q, args); err != nil {
		return err
	}
	w.writes++
	return nil
}

// TestEnumErrorValueUnderWrites migrates a table whose ENUMs, which have
// an empty member, are written during the copy and the applier's work with
// the error value that a session without strict mode stores for a string
// that is no member. The migrated table must hold what the control table
// holds, the error value (index 0) where it holds it and the empty member
// where it holds that: into ENUMs of the same definition, into an ENUM
// whose members change, and into a VARCHAR (where it is the empty string).
// The copy key starts with an ENUM too, whose members the index orders
// otherwise than their names sort, and rows move in it. The writes stop at
// the cut-over.
func TestEnumErrorValueUnderWrites(t *testing.T) {
	const def = `(id INT NOT NULL, k ENUM('b','','a') NOT NULL, e ENUM('','a','b') NOT NULL, g ENUM('','a','b') NULL,
		v VARCHAR(64) NOT NULL, PRIMARY KEY (k, id), UNIQUE KEY id (id)) ENGINE=InnoDB`
	for _, c := range []struct{ name, alter, check string }{
		{"another column", "ADD COLUMN extra INT NULL", "`extra` int(11)"},
		{"members added", "MODIFY g ENUM('','a','b','c') NULL", "`g` enum('','a','b','c')"},
		{"to varchar", "MODIFY e VARCHAR(10) NOT NULL", "`e` varchar(10) NOT NULL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			ctx := context.Background()
			mustExec(t, db, "CREATE TABLE en "+def)
			mustExec(t, db, "CREATE TABLE en_control "+def)
			conn, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			mustExec(t, conn, "SET SESSION sql_mode = ''")
			w := &enumWriter{conn: conn, table: "en", rng: rand.New(rand.NewPCG(7, 3))}
			for range 600 {
				w.mu.Lock()
				w.nextID++
				id := w.nextID
				k, e, g := w.value(false), w.value(false), w.value(true)
				w.mu.Unlock()
				for _, tbl := range []string{"en", "en_control"} {
					mustExec(t, conn, "INSERT INTO "+tbl+" (id, k, e, g, v) VALUES (?, ?, ?, ?, ?)", id, k, e, g, fmt.Sprintf("v%d", id))
				}
			}

			cfg := testConfig(t, dbName, "en", c.alter)
			cfg.ChunkSize = 100
			// The writer stops before the cut-over: after it, a string
			// that is no member is stored as it is in a VARCHAR, and as
			// the error value in the control's ENUM.
			res := migrateUnderWrites(ctx, t, cfg, w.write, 20, true)
			if def := showCreate(t, db, dbName, "en"); !strings.Contains(def, c.check) {
				t.Errorf("the new definition lacks %s:\n%s", c.check, def)
			}
			t.Logf("%d transactions during the migration, %d events applied", w.writes, res.EventsApplied)
			if res.Key != "PRIMARY" {
				t.Errorf("the copy walked %s, want the primary key (k, id)", res.Key)
			}
			wantEqualToControl(ctx, t, db, "en", []workload.ColumnPair{{Table: "k", Control: "k"}, {Table: "e", Control: "e"}, {Table: "g", Control: "g"}, {Table: "v", Control: "v"}})
			// The error value and the empty member were both written, and
			// the comparison told them apart.
			var errorValues, emptyMembers int
			if err := db.QueryRowContext(ctx, "SELECT SUM(g + 0 = 0), SUM(g = '' AND g + 0 = 1) FROM en_control").Scan(&errorValues, &emptyMembers); err != nil {
				t.Fatal(err)
			}
			if errorValues == 0 || emptyMembers == 0 {
				t.Errorf("the control holds %d error values and %d members '' in g, want both", errorValues, emptyMembers)
			}
		})
	}
}

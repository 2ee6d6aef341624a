package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/workload"
)

// charsetKey is the second column of the test table's primary key: a text
// column in a collation that is neither its character set's default nor
// _bin, so that the applier's key lookups must name the collation (an
// unnamed one would be an illegal mix), and whose bytes are latin2's upper
// half, which only a reader that decodes nothing carries unchanged.
var charsetKey = workload.CharsetColumn{Name: "k", Charset: "latin2", Collation: "latin2_czech_cs", RawHigh: true}

// charsetWriter writes the same transactions to the table and its control
// table: inserts, updates of a few columns or of the key, and deletes, with
// values each character set holds.
type charsetWriter struct {
	db     *sql.DB
	table  string
	cols   []workload.CharsetColumn
	mu     sync.Mutex
	rng    *rand.Rand
	nextID int
	writes int
}

func (w *charsetWriter) insertSQL(table string, id int) (string, []any) {
	marks, args := []string{"?", "CONVERT(UNHEX(?) USING latin2)"}, []any{id, nil}
	args[1] = w.keyValue()
	cols := []string{"id", "k"}
	for _, c := range w.cols {
		m, a := c.Value(w.rng)
		cols, marks, args = append(cols, c.Name), append(marks, m), append(args, a)
	}
	return "INSERT INTO " + mysql.QuoteIdent(table) + " (" + mysql.QuoteIdents(cols) + ") VALUES (" + strings.Join(marks, ", ") + ")", args
}

// keyValue is a random non-empty key value in latin2's upper half.
func (w *charsetWriter) keyValue() string {
	b := make([]byte, 1+w.rng.IntN(8))
	for i := range b {
		b[i] = byte(0x80 + w.rng.IntN(0x80))
	}
	return fmt.Sprintf("%X", b)
}

// write runs one transaction on both tables.
func (w *charsetWriter) write(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var stmts []string
	var args [][]any
	both := func(build func(table string) (string, []any)) {
		for _, tbl := range []string{w.table, workload.ControlTable(w.table)} {
			q, a := build(tbl)
			stmts, args = append(stmts, q), append(args, a)
		}
	}
	id := 1 + w.rng.IntN(w.nextID)
	switch op := w.rng.IntN(10); {
	case op < 3:
		w.nextID++
		id := w.nextID
		// The same values in both tables: the builder is run once.
		q, a := w.insertSQL(w.table, id)
		stmts, args = append(stmts, q, strings.Replace(q, mysql.QuoteIdent(w.table), mysql.QuoteIdent(workload.ControlTable(w.table)), 1)), append(args, a, a)
	case op < 8:
		var sets []string
		var a []any
		for range 3 {
			c := w.cols[w.rng.IntN(len(w.cols))]
			m, v := c.Value(w.rng)
			sets, a = append(sets, mysql.QuoteIdent(c.Name)+" = "+m), append(a, v)
		}
		a = append(a, id)
		both(func(tbl string) (string, []any) {
			return "UPDATE " + mysql.QuoteIdent(tbl) + " SET " + strings.Join(sets, ", ") + " WHERE id = ?", a
		})
	case op < 9:
		k := w.keyValue()
		both(func(tbl string) (string, []any) {
			return "UPDATE " + mysql.QuoteIdent(tbl) + " SET k = CONVERT(UNHEX(?) USING latin2) WHERE id = ?", []any{k, id}
		})
	default:
		both(func(tbl string) (string, []any) {
			return "DELETE FROM " + mysql.QuoteIdent(tbl) + " WHERE id = ?", []any{id}
		})
	}
	if err := inOneTransaction(ctx, w.db, stmts, args); err != nil {
		return err
	}
	w.writes++
	return nil
}

// TestAllCharsetsUnderWrites migrates, by a copy, a table with a column for
// every character set the server offers (in its default, _bin, NO PAD and
// another _ci collation where it has them) while transactions insert,
// update and delete rows, in the table and in a control table alike. The
// migrated table must hold the control's bytes in every column.
func TestAllCharsetsUnderWrites(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	cols, err := workload.CharsetColumns(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defs := []string{"id INT NOT NULL", fmt.Sprintf("k VARCHAR(12) CHARACTER SET %s COLLATE %s NOT NULL", charsetKey.Charset, charsetKey.Collation)}
	for _, c := range cols {
		defs = append(defs, fmt.Sprintf("%s VARCHAR(12) CHARACTER SET %s COLLATE %s NULL", mysql.QuoteIdent(c.Name), c.Charset, c.Collation))
	}
	create := "CREATE TABLE %s (" + strings.Join(defs, ", ") + ", PRIMARY KEY (id, k)) ENGINE=InnoDB"
	mustExec(t, db, fmt.Sprintf(create, "cs"))
	mustExec(t, db, fmt.Sprintf(create, workload.ControlTable("cs")))
	w := &charsetWriter{db: db, table: "cs", cols: cols, rng: rand.New(rand.NewPCG(1, 11))}
	for w.nextID < 600 {
		w.mu.Lock()
		w.nextID++
		q, a := w.insertSQL("cs", w.nextID)
		w.mu.Unlock()
		mustExec(t, db, q, a...)
		mustExec(t, db, strings.Replace(q, "`cs`", "`cs_control`", 1), a...)
	}

	cfg := testConfig(t, dbName, "cs", "ADD COLUMN extra INT NULL")
	cfg.ChunkSize = 100
	res := migrateUnderWrites(ctx, t, cfg, w.write, 20, false)
	t.Logf("%d columns, %d transactions during the migration, %d events applied", len(cols), w.writes, res.EventsApplied)
	pairs := []workload.ColumnPair{{Table: "k", Control: "k"}}
	for _, c := range cols {
		pairs = append(pairs, workload.ColumnPair{Table: c.Name, Control: c.Name})
	}
	wantEqualToControl(ctx, t, db, "cs", pairs)
	// Every value beyond ASCII was exercised: a table of ASCII only would
	// pass whatever the reader did.
	var high int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM cs WHERE HEX(k) REGEXP '^([0-7][0-9A-F])*[89A-F]'").Scan(&high); err != nil || high == 0 {
		t.Errorf("%d keys with a byte beyond ASCII (%v)", high, err)
	}
}

// TestAlterToCharsetParserLacks runs issue 11's ALTER, to a character set
// the SQL parser does not know, while rows are written: the server is the
// authority on the name. A name the server does not know either is refused
// in the server's words before anything is created.
func TestAlterToCharsetParserLacks(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE names (id INT PRIMARY KEY, t2 VARCHAR(128) CHARACTER SET utf8mb4 NOT NULL)")
	words := []string{"Łódź", "Příliš žluťoučký kůň", "Kraków", "Győr", "plain"}
	for id := 1; id <= 1000; id++ {
		mustExec(t, db, "INSERT INTO names VALUES (?, ?)", id, words[id%len(words)])
	}

	bad := testConfig(t, dbName, "names", "MODIFY t2 VARCHAR(128) CHARACTER SET nosuch NOT NULL")
	if _, err := runMigration(ctx, t, bad); err == nil || !strings.Contains(err.Error(), "nosuch") || strings.Contains(err.Error(), "could not parse") {
		t.Fatalf("unknown character set: %v, want the server's refusal naming it", err)
	}
	if got := tablesIn(t, db, dbName); !reflect.DeepEqual(got, []string{"names"}) {
		t.Fatalf("tables after the refusal: %v", got)
	}

	cfg := testConfig(t, dbName, "names", "MODIFY t2 VARCHAR(128) CHARACTER SET latin2 NOT NULL")
	cfg.ChunkSize = 200
	updated := []string{"0"}
	cfg.testHooks = &testHooks{afterChunk: func(seq int) {
		mustExec(t, db, "INSERT INTO names VALUES (?, 'Wrocław')", 2000+seq)
		mustExec(t, db, "UPDATE names SET t2 = 'Gdańsk' WHERE id = ?", seq*150)
		updated = append(updated, fmt.Sprint(seq*150))
	}}
	res, err := runMigration(ctx, t, cfg)
	if err != nil {
		t.Fatalf("migration failed: %v", err)
	}
	if res.EventsApplied == 0 {
		t.Error("no binlog event was applied")
	}
	if def := showCreate(t, db, dbName, "names"); !strings.Contains(def, "CHARACTER SET latin2") {
		t.Errorf("definition after the migration:\n%s", def)
	}
	var wrong int
	q := "SELECT COUNT(*) FROM names WHERE HEX(t2) <> HEX(CONVERT(CASE WHEN id > 2000 THEN 'Wrocław' WHEN id IN (" + strings.Join(updated, ", ") + ") THEN 'Gdańsk' ELSE ELT(id % 5 + 1, ?, ?, ?, ?, ?) END USING latin2))"
	if err := db.QueryRowContext(ctx, q, words[0], words[1], words[2], words[3], words[4]).Scan(&wrong); err != nil || wrong != 0 {
		t.Errorf("%d rows not as written (%v)", wrong, err)
	}
}

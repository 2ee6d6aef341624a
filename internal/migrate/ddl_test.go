package migrate

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Another session changes the original's definition in the middle of the
// copy: the rows tailor has copied no longer say what the table holds,
// and every resume would meet the statement again. The run stops, naming
// the statement, and the original keeps the other session's change.
func TestDDLOnTheOriginalStopsTheRun(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mustExec(t, db, "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, v INT) ENGINE=InnoDB")
	mustExec(t, db, "INSERT INTO t SELECT seq, seq FROM seq_1_to_20000")
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.ChunkSize = 200
	var once sync.Once
	cfg.testHooks = &testHooks{afterChunk: func(seq int) {
		time.Sleep(20 * time.Millisecond)
		if seq < 5 {
			return
		}
		once.Do(func() {
			mustExec(t, db, "ALTER TABLE t ADD COLUMN other VARCHAR(10) NULL")
			mustExec(t, db, "UPDATE t SET other = 'after' WHERE id <= 10")
		})
	}}
	_, err := runMigration(ctx, t, cfg)
	wantKind(t, err, KindFailed, "ALTER TABLE t ADD COLUMN other")
	t.Logf("the run stopped with: %v", err)
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM t WHERE other = 'after'").Scan(&n); err != nil || n != 10 {
		t.Errorf("the original holds %d rows of the other session's change (%v), want 10", n, err)
	}
	noLeftovers(t, db, dbName, []string{"t"})
}

// Another session changes the shadow's definition during the migration,
// in the copy or between the cut-over's check and its attempt: what the
// run would swap in is not the table the ALTER made. The run stops
// before the swap, at once (no attempt is retried), and the original is
// untouched.
func TestDDLOnTheShadowStopsTheRun(t *testing.T) {
	for _, when := range []string{"during the copy", "as the attempt begins"} {
		t.Run(when, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			mustExec(t, db, "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, v INT, KEY v (v)) ENGINE=InnoDB")
			mustExec(t, db, "INSERT INTO t SELECT seq, seq FROM seq_1_to_20000")
			before := checksum(t, db, dbName, "t")
			cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
			cfg.ChunkSize = 200
			alterShadow := func() { mustExec(t, db, "ALTER TABLE "+ShadowName("t")+" ALTER COLUMN v SET DEFAULT 7") }
			attempts := 0
			cfg.testHooks = &testHooks{beforeCutOverAttempt: func(attempt int) {
				attempts = attempt
				if when == "as the attempt begins" {
					alterShadow()
				}
			}}
			if when == "during the copy" {
				var once sync.Once
				cfg.testHooks.afterChunk = func(seq int) {
					if seq >= 5 {
						once.Do(alterShadow)
					}
				}
			}
			_, err := runMigration(ctx, t, cfg)
			if err == nil {
				t.Fatalf("the run swapped in a shadow another session altered: %s", showCreate(t, db, dbName, "t"))
			}
			wantKind(t, err, KindFailed, "tailor does not swap in `t_tailor_new`: another session changed its definition during the migration", "`t` is untouched")
			if want := map[string]int{"during the copy": 0, "as the attempt begins": 1}[when]; attempts != want {
				t.Errorf("%d cut-over attempts began, want %d", attempts, want)
			}
			if after := checksum(t, db, dbName, "t"); after != before {
				t.Errorf("the original changed: checksum %d, want %d", after, before)
			}
			noLeftovers(t, db, dbName, []string{"t"})
		})
	}
}

package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/sandbox"
	"github.com/tailor-osc/tailor/internal/workload"
)

// Other sessions do what they like to tailor's tables (issue 10). Through
// the cut-over of a 100,000-row table under a mirrored write load, one
// session reads the shadow, one holds LOCK TABLES ... READ on it, and
// mariadb-dump --single-transaction dumps the whole schema. No write may
// be lost: the result equals the control table, and the run's proof from
// the binary log (proveSwap) passes, or the run would have failed.
func TestCutOverWithSessionsOnTheShadow(t *testing.T) {
	const rows = 100_000
	db, dbName := sbx.NewDatabase(t)
	db.SetMaxOpenConns(30)
	ctx := context.Background()
	if err := workload.Create(ctx, db, "orders", rows); err != nil {
		t.Fatal(err)
	}
	shadow := mysql.QuoteTable(dbName, ShadowName("orders"))
	cfg := testConfig(t, dbName, "orders", "ADD COLUMN refunded_at DATETIME(6) NULL")
	cfg.Threads, cfg.ChunkTime = 2, 20*time.Millisecond
	cfg.CutOverAttempts = 10

	var adversaries sync.WaitGroup
	var mu sync.Mutex
	var seen []string
	note := func(format string) func(error) {
		return func(err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				format += " (" + err.Error() + ")"
			}
			seen = append(seen, format)
		}
	}
	adversary := func(done func(error), f func() error) {
		adversaries.Add(1)
		go func() {
			defer adversaries.Done()
			done(f())
		}()
	}
	cfg.testHooks = &testHooks{beforeCutOver: func() {
		// Each holds the shadow across the first attempts; the last one
		// ends about three seconds in.
		adversary(note("a reader of the shadow"), func() error {
			_, err := db.ExecContext(ctx, "SELECT SLEEP(2) FROM "+shadow+" LIMIT 1")
			return err
		})
		adversary(note("LOCK TABLES ... READ on the shadow"), func() error {
			conn, err := db.Conn(ctx)
			if err != nil {
				return err
			}
			defer conn.Close()
			if _, err := conn.ExecContext(ctx, "LOCK TABLES "+shadow+" READ"); err != nil {
				return err
			}
			time.Sleep(1500 * time.Millisecond)
			_, err = conn.ExecContext(ctx, "UNLOCK TABLES")
			return err
		})
		adversary(note("a transaction that read the shadow"), func() error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+shadow).Scan(&n); err != nil {
				return err
			}
			time.Sleep(3 * time.Second)
			return tx.Commit()
		})
		adversary(note("mariadb-dump --single-transaction of the schema"), func() error {
			return dumpSchema(ctx, dbName)
		})
	}}
	res, stats := migrateUnderLoad(ctx, t, db, cfg, workload.Options{Table: "orders", Writers: 4, Rate: 300, InitialRows: rows, Seed: 7}, 300*time.Millisecond)
	adversaries.Wait()
	t.Logf("cut-over in %d attempts, writes held %s; load: %d tx, %d errors, longest %s; adversaries: %s",
		res.CutOverAttempts, res.CutOverLock, stats.Transactions, stats.Errors, stats.LongestStall, strings.Join(seen, "; "))
	wantEqualToControl(ctx, t, db, "orders", workload.SameColumns(nil, nil))
}

// dumpSchema runs mariadb-dump --single-transaction over the whole test
// database, as a backup would, and throws the dump away.
func dumpSchema(ctx context.Context, database string) error {
	bin, err := exec.LookPath("mariadb-dump")
	if err != nil {
		if bin, err = exec.LookPath("mysqldump"); err != nil {
			return errors.New("no mariadb-dump on this machine")
		}
	}
	cmd := exec.CommandContext(ctx, bin, "--single-transaction", "--protocol=TCP", "--host=127.0.0.1",
		"--port="+strconv.Itoa(sbx.Port), "--user="+sandbox.User, database)
	cmd.Env = append(os.Environ(), "MYSQL_PWD="+sandbox.Password)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// A write that reached the original after the final catch-up is caught by
// the proof after the swap: the run fails with KindLostWrites (exit code
// 5), names the keys, and keeps the old table even with OkToDropTable. The
// proof is made to start reading before two writes that the catch-up did
// apply, so that they stand for writes it missed.
func TestSwapProofNamesLateWrites(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, v INT) ENGINE=InnoDB")
	mustExec(t, db, "INSERT INTO t SELECT seq, seq FROM seq_1_to_1000")
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.OkToDropTable = true
	var early capture.Position
	cfg.testHooks = &testHooks{
		beforeCutOver: func() {
			server, err := mysql.DetectServer(ctx, db)
			if err != nil {
				t.Error(err)
				return
			}
			if early, err = capture.CurrentPosition(ctx, db, server); err != nil {
				t.Error(err)
			}
			mustExec(t, db, "INSERT INTO t VALUES (5000, 5000)")
			mustExec(t, db, "UPDATE t SET v = -7 WHERE id = 7")
		},
		proofFrom: func(capture.Position) capture.Position { return early },
	}
	_, err := runMigration(ctx, t, cfg)
	if KindOf(err) != KindLostWrites {
		t.Fatalf("run = %v (kind %s), want %s", err, KindOf(err), KindLostWrites)
	}
	var late *LateWritesError
	if !errors.As(err, &late) || late.Writes != 2 {
		t.Fatalf("error %v, want a LateWritesError of 2 writes", err)
	}
	for _, want := range []string{"insert id=5000", "update id=7", "`t_tailor_old`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "untouched") {
		t.Errorf("the error calls the swapped table untouched: %v", err)
	}
	// Nothing to revert to: the old table holds writes the new one lacks.
	noLeftovers(t, db, dbName, []string{"t", "t_tailor_old"})
}

// Losing the migration lock (its connection killed) stops the run at the
// next check, long before the copy ends, and the run then leaves the shadow
// alone: another tailor may have started and made it its own.
func TestLostLockStopsTheRun(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, v INT) ENGINE=InnoDB")
	mustExec(t, db, "INSERT INTO t SELECT seq, seq FROM seq_1_to_20000")
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.ChunkSize = 100 // 200 chunks, 20 s at the pace below
	var once sync.Once
	var chunksAfterKill int
	killed := false
	cfg.testHooks = &testHooks{afterChunk: func(seq int) {
		time.Sleep(100 * time.Millisecond)
		if killed {
			chunksAfterKill++
		}
		if seq < 3 {
			return
		}
		once.Do(func() {
			var holder sql.NullInt64
			if err := db.QueryRow("SELECT IS_USED_LOCK(?)", lockName(dbName, "t")).Scan(&holder); err != nil || !holder.Valid {
				t.Errorf("no holder of the migration lock (%v)", err)
				return
			}
			mustExec(t, db, "KILL "+strconv.FormatInt(holder.Int64, 10))
			killed = true
		})
	}}
	_, err := runMigration(ctx, t, cfg)
	wantKind(t, err, KindFailed, "lost the migration lock", "left alone")
	if chunksAfterKill > 40 {
		t.Errorf("%d chunks were copied after the lock was lost; want the run stopped within about a second", chunksAfterKill)
	}
	noLeftovers(t, db, dbName, []string{"t", "t_tailor_hb", "t_tailor_new", "t_tailor_state"})
}

// A session that has held the shadow for a second stops a cut-over attempt
// from starting, as one on the original does: the RENAME would hold the
// writers while it waited for it. When every attempt gives up, the error
// says once that the original is untouched.
func TestCutOverWaitsForShadowHolder(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctx := context.Background()
	mustExec(t, db, "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, v INT) ENGINE=InnoDB")
	mustExec(t, db, "INSERT INTO t SELECT seq, seq FROM seq_1_to_1000")
	cfg := testConfig(t, dbName, "t", "ADD COLUMN x INT NULL")
	cfg.CutOverAttempts = 2
	readerDone := make(chan error, 1)
	cfg.testHooks = &testHooks{beforeCutOver: func() {
		go func() {
			_, err := db.ExecContext(ctx, "SELECT SLEEP(6) FROM "+mysql.QuoteIdent(ShadowName("t"))+" LIMIT 1")
			readerDone <- err
		}()
		time.Sleep(1500 * time.Millisecond) // older than blockerMinAge
	}}
	_, err := runMigration(ctx, t, cfg)
	<-readerDone
	if KindOf(err) != KindResumable {
		t.Fatalf("run = %v (kind %s), want a stop that keeps the copy", err, KindOf(err))
	}
	for _, want := range []string{"not started", "`t_tailor_new`", "untouched", "--resume"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "untouched"); n != 1 {
		t.Errorf("the error says %d times that the table is untouched: %v", n, err)
	}
	noLeftovers(t, db, dbName, []string{"t", "t_tailor_new", "t_tailor_state"})
}

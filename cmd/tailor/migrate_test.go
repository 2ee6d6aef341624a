package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

// writeFolder writes the migration files of a test into a new folder.
func writeFolder(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func migrateArgs(sub, database, dir string, extra ...string) []string {
	args := append([]string{"migrate", sub}, connArgs()...)
	args = append(args, "--database", database, "--dir", dir)
	return append(args, extra...)
}

// expandContract is the README's example: add the column, backfill it,
// drop the old one.
var expandContract = map[string]string{
	"V1__add_display_name.sql":      "ALTER TABLE t ADD COLUMN display_name VARCHAR(100) NULL;\n",
	"V2__backfill_display_name.sql": "-- tailor:backfill\nUPDATE t SET display_name = name WHERE display_name IS NULL;\n",
	"V3__drop_name.sql":             "-- tailor:allow-destructive\nALTER TABLE t DROP COLUMN name;\n",
}

// TestMigrateCommand runs tailor migrate as CI would: plan, the dry run,
// apply, then status, validate and history, and the exit codes. MariaDB
// 10.4 and later drop a column INSTANT, so no file here copies a table.
func TestMigrateCommand(t *testing.T) {
	t.Setenv("MYSQL_PWD", sandbox.Password)
	db, dbName := sbx.NewDatabase(t)
	smallTable(t, db, 5000)
	dir := writeFolder(t, expandContract)

	p := tailor(t, migrateArgs("plan", dbName, dir)...)
	p.wantCode(t, exitOK)
	for _, want := range []string{"3 pending statement(s) in 3 file(s); OK", "V1__add_display_name.sql", "strategy   native-instant.",
		"strategy   backfill.", "against an empty clone with the earlier pending statements applied"} {
		if !strings.Contains(p.stdout, want) {
			t.Errorf("the plan does not say %q", want)
		}
	}
	pj := tailor(t, migrateArgs("plan", dbName, dir, "--output", "json")...)
	pj.wantCode(t, exitOK)
	var doc struct {
		OK    bool `json:"ok"`
		Files []struct {
			File       string `json:"file"`
			Statements []struct {
				Strategy string `json:"strategy"`
				Line     int    `json:"line"`
			} `json:"statements"`
		} `json:"files"`
	}
	if err := json.Unmarshal([]byte(pj.stdout), &doc); err != nil || !doc.OK || len(doc.Files) != 3 || doc.Files[2].Statements[0].Strategy != "native-instant" {
		t.Errorf("plan --output json: %+v, %v", doc, err)
	}

	dry := tailor(t, migrateArgs("apply", dbName, dir)...)
	dry.wantCode(t, exitOK)
	if !strings.Contains(dry.stdout, "Dry run: nothing was changed") {
		t.Errorf("the dry run does not say so")
	}
	if n := count(t, db, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '"+dbName+"' AND TABLE_NAME = 't' AND COLUMN_NAME = 'display_name'"); n != 0 {
		t.Fatal("the dry run changed the table")
	}

	run := tailor(t, migrateArgs("apply", dbName, dir, "--execute", "--control-socket", filepath.Join(os.TempDir(), "tailor-mig-"+dbName+".sock"))...)
	run.wantCode(t, exitOK)
	for _, want := range []string{"V1__add_display_name.sql\n  statement 1 (line 1): native-instant", "V2__backfill_display_name.sql\n  statement 1 (line 2): backfill", "V3__drop_name.sql\n  statement 1 (line 2): native-instant"} {
		if !strings.Contains(run.stdout, want) {
			t.Errorf("apply does not say %q", want)
		}
	}
	if n := count(t, db, "SELECT COUNT(*) FROM t WHERE display_name IS NULL"); n != 0 {
		t.Errorf("%d rows not backfilled", n)
	}
	again := tailor(t, migrateArgs("apply", dbName, dir, "--execute")...)
	again.wantCode(t, exitOK)
	if !strings.Contains(again.stdout, "Up to date: no pending file.") {
		t.Errorf("a second apply does not say it is up to date")
	}
	st := tailor(t, migrateArgs("status", dbName, dir)...)
	st.wantCode(t, exitOK)
	if strings.Count(st.stdout, " applied ") != 3 {
		t.Errorf("status does not list three applied files")
	}
	tailor(t, migrateArgs("validate", dbName, dir)...).wantCode(t, exitOK)
	h := tailor(t, append([]string{"migrate", "history", "--database", dbName, "--output", "json"}, connArgs()...)...)
	h.wantCode(t, exitOK)
	var rows []struct {
		Script     string `json:"script"`
		State      string `json:"state"`
		Statements []struct {
			Strategy string `json:"strategy"`
		} `json:"statements"`
	}
	if err := json.Unmarshal([]byte(h.stdout), &rows); err != nil || len(rows) != 3 || rows[2].State != "applied" || rows[2].Statements[0].Strategy != "native-instant" {
		t.Errorf("history --output json: %+v, %v", rows, err)
	}

	// An applied file edited: validate and apply refuse, exit code 3.
	if err := os.WriteFile(filepath.Join(dir, "V1__add_display_name.sql"), []byte("ALTER TABLE t ADD COLUMN display_name VARCHAR(200) NULL;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v := tailor(t, migrateArgs("validate", dbName, dir)...)
	v.wantCode(t, exitInvalid)
	v.errorLine(t, "V1__add_display_name.sql was applied", "changed")
}

// TestMigratePlanRefuses plans a destructive statement without permission:
// exit code 3, and the JSON says which statement and why.
func TestMigratePlanRefuses(t *testing.T) {
	t.Setenv("MYSQL_PWD", sandbox.Password)
	db, dbName := sbx.NewDatabase(t)
	smallTable(t, db, 100)
	dir := writeFolder(t, map[string]string{"V1__drop.sql": "ALTER TABLE t DROP COLUMN n;\n"})
	p := tailor(t, migrateArgs("plan", dbName, dir)...)
	p.wantCode(t, exitInvalid)
	if !strings.Contains(p.stdout, "strategy   refused.") || !strings.Contains(p.stdout, "--allow-destructive") {
		t.Errorf("the plan does not refuse the drop")
	}
	a := tailor(t, migrateArgs("apply", dbName, dir, "--execute")...)
	a.wantCode(t, exitInvalid)
	a.errorLine(t, "nothing was run", "V1__drop.sql, statement 1 (line 1)", "allow-destructive")
	tailor(t, migrateArgs("plan", dbName, dir, "--allow-destructive")...).wantCode(t, exitOK)
	tailor(t, "migrate").wantCode(t, exitUsage)
	tailor(t, "migrate", "plan", "--database", dbName).wantCode(t, exitUsage)
}

// TestExecCommand runs one file outside any history, as another runner
// would call it: it stops at a failing statement naming it, and
// --from-statement continues there.
func TestExecCommand(t *testing.T) {
	t.Setenv("MYSQL_PWD", sandbox.Password)
	db, dbName := sbx.NewDatabase(t)
	smallTable(t, db, 200)
	if _, err := db.Exec("UPDATE t SET name = IF(id <= 2, 'same', CONCAT('n', id))"); err != nil {
		t.Fatal(err)
	}
	dir := writeFolder(t, map[string]string{"change.sql": "ALTER TABLE t ADD COLUMN note VARCHAR(20) NULL;\n\nCREATE UNIQUE INDEX uq_name ON t (name);\nALTER TABLE t ADD COLUMN score INT NULL;\n"})
	file := filepath.Join(dir, "change.sql")
	args := func(extra ...string) []string {
		return append(append(append([]string{"exec"}, connArgs()...), "--database", dbName, "--file", file), extra...)
	}
	dry := tailor(t, args()...)
	dry.wantCode(t, exitOK)
	if !strings.Contains(dry.stdout, "Dry run: nothing was changed") || !strings.Contains(dry.stdout, "statement 2, line 3: alter-table") {
		t.Errorf("the dry run does not show the plan")
	}
	stop := tailor(t, args("--execute")...)
	stop.wantCode(t, exitInvalid)
	stop.errorLine(t, "change.sql, statement 2 (line 3)", "unique")
	if !strings.Contains(stop.stdout, "Stopped at statement 2; to continue there: --from-statement 2") {
		t.Errorf("exec does not say where to continue")
	}
	if _, err := db.Exec("DELETE FROM t WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	again := tailor(t, args("--execute", "--from-statement", "2", "--output", "json")...)
	again.wantCode(t, exitOK)
	var doc struct {
		Statements []struct {
			Statement int    `json:"statement"`
			Strategy  string `json:"strategy"`
		} `json:"statements"`
		StoppedAt int `json:"stopped_at"`
		ExitCode  int `json:"exit_code"`
	}
	if err := json.Unmarshal([]byte(again.stdout), &doc); err != nil || len(doc.Statements) != 2 || doc.Statements[0].Statement != 2 || doc.StoppedAt != 0 {
		t.Errorf("exec --output json: %+v, %v", doc, err)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '"+dbName+"' AND TABLE_NAME = 't' AND COLUMN_NAME IN ('note', 'score')"); n != 2 {
		t.Errorf("%d of the two columns exist", n)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '"+dbName+"' AND TABLE_NAME = 'tailor_schema_history'"); n != 0 {
		t.Errorf("exec made a history table")
	}
}

// TestMigrateApplyEngineFlags checks that apply hands the copy's and the
// backfill's flags to both engines as alter and backfill do, and refuses
// what they refuse.
func TestMigrateApplyEngineFlags(t *testing.T) {
	t.Parallel()
	parse := func(args ...string) (*migrateFlags, *cobra.Command) {
		f := &migrateFlags{}
		cmd := &cobra.Command{Use: "apply"}
		f.register(cmd, true)
		f.registerChecks(cmd.Flags(), true)
		f.registerApply(cmd.Flags(), true)
		if err := cmd.Flags().Parse(args); err != nil {
			t.Fatal(err)
		}
		return f, cmd
	}
	f, cmd := parse("--max-redo-fill", "80", "--checksum-during-copy")
	if err := f.checkApplyFlags(); err != nil {
		t.Fatal(err)
	}
	a, b := f.engineConfigs(cmd)
	if a.MaxRedoFill != 0.8 || b.MaxRedoFill != 0.8 || !a.ChecksumDuringCopy {
		t.Errorf("alter MaxRedoFill %v, ChecksumDuringCopy %v, backfill MaxRedoFill %v; want 0.8, true, 0.8", a.MaxRedoFill, a.ChecksumDuringCopy, b.MaxRedoFill)
	}
	f, cmd = parse()
	if a, b := f.engineConfigs(cmd); a.MaxRedoFill != operate.DefaultMaxRedoFill || b.MaxRedoFill != operate.DefaultMaxRedoFill || a.ChecksumDuringCopy {
		t.Errorf("defaults: alter MaxRedoFill %v, ChecksumDuringCopy %v, backfill MaxRedoFill %v", a.MaxRedoFill, a.ChecksumDuringCopy, b.MaxRedoFill)
	}
	// The old flag for what is now the default is still accepted.
	if f, cmd = parse("--checksum-after-copy"); f.checkApplyFlags() != nil {
		t.Error("--checksum-after-copy refused")
	} else if a, _ := f.engineConfigs(cmd); a.ChecksumDuringCopy {
		t.Error("--checksum-after-copy compares during the copy")
	}
	// The chunk flags reach both engines: a time adapts both sizes, a
	// size given fixes both.
	f, cmd = parse("--chunk-time", "50ms")
	if a, b := f.engineConfigs(cmd); a.ChunkTime != 50*time.Millisecond || b.ChunkTime != 50*time.Millisecond || a.ChunkSize != operate.DefaultChunkSize || b.ChunkSize != operate.DefaultChunkSize {
		t.Errorf("--chunk-time 50ms: alter %d rows, %v; backfill %d rows, %v", a.ChunkSize, a.ChunkTime, b.ChunkSize, b.ChunkTime)
	}
	f, cmd = parse("--chunk-size", "300")
	if a, b := f.engineConfigs(cmd); a.ChunkTime != 0 || b.ChunkTime != 0 || a.ChunkSize != 300 || b.ChunkSize != 300 {
		t.Errorf("--chunk-size 300: alter %d rows, %v; backfill %d rows, %v", a.ChunkSize, a.ChunkTime, b.ChunkSize, b.ChunkTime)
	}
	f, _ = parse("--max-redo-fill", "0")
	if err := f.checkApplyFlags(); err == nil || !strings.Contains(err.Error(), "--max-redo-fill must be between 1 and 100 (percent), not 0") {
		t.Errorf("--max-redo-fill 0: %v", err)
	}
}

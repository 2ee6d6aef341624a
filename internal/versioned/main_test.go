package versioned

import (
	"log/slog"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"go.uber.org/goleak"

	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/operate"
	"github.com/tailor-osc/tailor/internal/sandbox"
)

var sbx *sandbox.Sandbox

func TestMain(m *testing.M) {
	os.Exit(sandbox.RunTestsCheckingLeaks(m, &sbx, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener")))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testConfig is a run of dir on database, executing, with the copy kept
// small and quick.
func testConfig(t testing.TB, database string, dir fstest.MapFS) Config {
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	return Config{
		Conn:     sbx.Conn(database),
		Database: database,
		Dir:      dir,
		DirName:  "migrations",
		Execute:  true,
		LockWait: 200 * time.Millisecond,
		Alter: migrate.Config{
			Threads: 1,
			// The tests' tables are small and live in one database per
			// test; the default socket path is per table and shared.
			Settings: operate.Settings{ChunkSize: 500, ProgressInterval: time.Second, ControlSocket: ""},
		},
		Logger: logger,
	}
}

func newRunner(t testing.TB, cfg Config) *Runner {
	t.Helper()
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func file(text string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(text)} }

var mustExec = sandbox.Exec

// digits is a derived table of the numbers 0 to 9, to make rows with
// cross joins in any MariaDB or MySQL.
const digits = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"

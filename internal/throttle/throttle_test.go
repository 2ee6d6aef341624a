package throttle

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// The integration tests are not parallel: the load tests count the
// server's connections, which the others would change.

func TestNewRejects(t *testing.T) {
	t.Parallel()
	// New does not connect: a pool that could never reach a server will do.
	db, err := sql.Open("mysql", "nobody@tcp(127.0.0.1:1)/")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ok := Config{DB: db, Database: "d", HeartbeatTable: "hb"}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no db", func(c *Config) { c.DB = nil }, "no primary connection"},
		{"no table", func(c *Config) { c.HeartbeatTable = "" }, "needs a database and a name"},
		{"negative lag", func(c *Config) { c.MaxLag = -time.Second }, "must not be negative"},
		{"bad replica", func(c *Config) { c.Replicas = []string{"127.0.0.1:notaport"} }, "--throttle-control-replicas: '127.0.0.1:notaport' is not a host:port address"},
		{"empty replica", func(c *Config) { c.Replicas = []string{""} }, "'' is not a host:port address"},
	}
	for _, tt := range tests {
		cfg := ok
		tt.change(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New error = %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	th, err := New(Config{DB: db, Database: "d", HeartbeatTable: "hb", Replicas: []string{"db1"}})
	if err != nil {
		t.Fatal(err)
	}
	if th.cfg.MaxLag != DefaultMaxLag || th.cfg.Interval != DefaultInterval || th.cfg.CheckInterval != DefaultCheckInterval {
		t.Errorf("defaults not applied: %+v", th.cfg)
	}
	if addr, _ := parseAddr("db1"); addr != "db1:3306" {
		t.Errorf("parseAddr(db1) = %q, want db1:3306", addr)
	}
}

// TestPauseResume shows the operator's pause taking effect at once, Wait
// holding until Resume, the time counted under "operator", and one log
// line for the start and one for the end.
func TestPauseResume(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	cfg, logs := baseConfig(t, db, dbName)
	th := start(t, cfg)
	waitFree(t, th)

	th.Pause("disk almost full")
	wantReasons(t, th, "paused by the operator (disk almost full)")
	waitBlocks(t, th)
	time.AfterFunc(300*time.Millisecond, th.Resume)
	waitFree(t, th)
	wantReasons(t, th)

	secs := th.ThrottledSeconds()
	if secs[KindOperator] < blockTime.Seconds() {
		t.Errorf("ThrottledSeconds[operator] = %v, want at least %v", secs[KindOperator], blockTime.Seconds())
	}
	for _, k := range kinds {
		if k != KindOperator && secs[k] != 0 {
			t.Errorf("ThrottledSeconds[%s] = %v, want 0", k, secs[k])
		}
	}
	if n, m := logs.count("throttling"), logs.count("throttling ended"); n != 1 || m != 1 {
		t.Errorf("logged %d starts and %d ends of throttling, want one each:\n%s", n, m, logs.buf.String())
	}
}

func TestFlagFile(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	cfg, _ := baseConfig(t, db, dbName)
	cfg.FlagFile = filepath.Join(t.TempDir(), "throttle")
	th := start(t, cfg)
	waitFree(t, th)

	if err := os.WriteFile(cfg.FlagFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	throttledFor(t, th, "flag file "+cfg.FlagFile+" exists")
	waitBlocks(t, th)
	if err := os.Remove(cfg.FlagFile); err != nil {
		t.Fatal(err)
	}
	waitFree(t, th)
	if s := th.ThrottledSeconds()[KindFlagFile]; s < blockTime.Seconds() {
		t.Errorf("ThrottledSeconds[flag-file] = %v, want at least %v", s, blockTime.Seconds())
	}
}

// TestPanicFlagFile shows that the panic flag stops Run, and Wait with it.
func TestPanicFlagFile(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	cfg, _ := baseConfig(t, db, dbName)
	cfg.PanicFlagFile = filepath.Join(t.TempDir(), "panic")
	th := start(t, cfg)
	waitFree(t, th)

	if err := os.WriteFile(cfg.PanicFlagFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := th.runResult(t)
	if !errors.Is(err, ErrPanicFlag) || !strings.Contains(err.Error(), cfg.PanicFlagFile+" exists") {
		t.Fatalf("Run = %v, want ErrPanicFlag naming the file", err)
	}
	if err := th.Wait(context.Background()); !errors.Is(err, ErrPanicFlag) {
		t.Fatalf("Wait after the panic = %v, want ErrPanicFlag", err)
	}
}

func TestThrottleQuery(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	ctl := mysql.QuoteTable(dbName, "ctl")
	for _, q := range []string{"CREATE TABLE " + ctl + " (id INT PRIMARY KEY, v INT)", "INSERT INTO " + ctl + " VALUES (1, 0)"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	cfg, _ := baseConfig(t, db, dbName)
	cfg.ThrottleQuery = "SELECT v FROM " + ctl + " WHERE id = 1"
	th := start(t, cfg)
	waitFree(t, th)

	if _, err := db.Exec("UPDATE " + ctl + " SET v = 1"); err != nil {
		t.Fatal(err)
	}
	throttledFor(t, th, "throttle-query returned 1")
	waitBlocks(t, th)
	if _, err := db.Exec("UPDATE " + ctl + " SET v = 0"); err != nil {
		t.Fatal(err)
	}
	waitFree(t, th)

	// A query that fails throttles too: it must not silently turn the
	// operator's protection off.
	if _, err := db.Exec("DROP TABLE " + ctl); err != nil {
		t.Fatal(err)
	}
	got := throttledFor(t, th, "throttle-query failed")
	if !strings.Contains(got, "doesn't exist") {
		t.Errorf("reason %q does not carry the server's error", got)
	}
	if s := th.ThrottledSeconds()[KindQuery]; s <= 0 {
		t.Errorf("ThrottledSeconds[query] = %v, want > 0", s)
	}
}

// TestMaxLoad crosses a Threads_connected threshold by opening sessions,
// and changes the threshold live.
func TestMaxLoad(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	cfg, _ := baseConfig(t, db, dbName)
	th := start(t, cfg)
	waitFree(t, th)

	limit := threadsConnected(t, db) + 8
	load := Load{{"Threads_connected", limit}}
	if err := th.SetMaxLoad(load); err != nil {
		t.Fatal(err)
	}
	waitFree(t, th)
	release := holdConnections(t, 15)
	got := throttledFor(t, th, "max-load Threads_connected=")
	if !strings.HasSuffix(got, " >= "+strconv.FormatInt(limit, 10)) {
		t.Errorf("reason %q does not name the threshold %d", got, limit)
	}
	waitBlocks(t, th)

	// A higher threshold frees the copy at once, on the last measurement.
	if err := th.SetMaxLoad(Load{{"Threads_connected", 100000}}); err != nil {
		t.Fatal(err)
	}
	wantReasons(t, th)
	if err := th.SetMaxLoad(load); err != nil {
		t.Fatal(err)
	}
	if !th.State().Throttled {
		t.Fatalf("back to threshold %d with the sessions open, not throttled: %+v", limit, th.State())
	}
	if err := th.SetMaxLoad(Load{{"Threads_runing", 5}}); err == nil || !strings.Contains(err.Error(), "no status variable Threads_runing") {
		t.Fatalf("SetMaxLoad with a misspelt name: %v", err)
	}

	release()
	waitFree(t, th)
	if s := th.ThrottledSeconds()[KindMaxLoad]; s < blockTime.Seconds() {
		t.Errorf("ThrottledSeconds[max-load] = %v, want at least %v", s, blockTime.Seconds())
	}
}

func TestMaxLoadUnknownVariable(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	cfg, _ := baseConfig(t, db, dbName)
	cfg.CriticalLoad = Load{{"Threads_runnin", 50}}
	th, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = th.Run(context.Background())
	if err == nil || err.Error() != "--critical-load: the server has no status variable Threads_runnin" {
		t.Fatalf("Run = %v, want the misspelt variable named", err)
	}
	if err := th.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCriticalLoadAborts(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	cfg, _ := baseConfig(t, db, dbName)
	cfg.CriticalLoad = Load{{"Threads_running", 100000}, {"Threads_connected", 1}}
	th := start(t, cfg)
	err := th.runResult(t)
	if !errors.Is(err, ErrCriticalLoad) || !strings.Contains(err.Error(), "Threads_connected=") || !strings.HasSuffix(err.Error(), " >= 1") {
		t.Fatalf("Run = %v, want ErrCriticalLoad naming Threads_connected", err)
	}
	if err := th.Wait(context.Background()); !errors.Is(err, ErrCriticalLoad) {
		t.Fatalf("Wait = %v, want ErrCriticalLoad", err)
	}
}

// TestCriticalLoadHibernates shows a critical load pausing everything, the
// heartbeat included, then the copy resuming once the load has gone.
func TestCriticalLoadHibernates(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	cfg, _ := baseConfig(t, db, dbName)
	cfg.CriticalLoad = Load{{"Threads_connected", threadsConnected(t, db) + 8}}
	cfg.CriticalLoadHibernate = 2 * time.Second
	th := start(t, cfg)
	waitFree(t, th)

	release := holdConnections(t, 15)
	got := throttledFor(t, th, "critical-load Threads_connected=")
	if !strings.Contains(got, "hibernating until") {
		t.Errorf("reason %q does not say it hibernates", got)
	}
	waitBlocks(t, th)
	// No beat is written while hibernating.
	beat := func() int64 {
		var micros int64
		if err := db.QueryRow("SELECT micros FROM " + mysql.QuoteTable(dbName, hbTable)).Scan(&micros); err != nil {
			t.Fatal(err)
		}
		return micros
	}
	if until := th.State().HibernatingUntil; time.Until(until) > 800*time.Millisecond {
		first := beat()
		time.Sleep(400 * time.Millisecond)
		if second := beat(); second != first && th.State().HibernatingUntil.Equal(until) {
			t.Errorf("heartbeat written during hibernation (%d then %d)", first, second)
		}
	}

	release()
	waitFree(t, th)
	select {
	case err := <-th.done:
		t.Fatalf("Run returned %v; a hibernating throttler should go on", err)
	default:
	}
	if s := th.ThrottledSeconds()[KindCriticalLoad]; s < 1.5 {
		t.Errorf("ThrottledSeconds[critical-load] = %v, want at least 1.5 (of a 2 s hibernation)", s)
	}
}

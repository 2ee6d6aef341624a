package operate

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the driver of the pool that never connects

	"github.com/tailor-osc/tailor/internal/control"
	"github.com/tailor-osc/tailor/internal/hooks"
	"github.com/tailor-osc/tailor/internal/metrics"
	"github.com/tailor-osc/tailor/internal/throttle"
)

func TestKnobsCommands(t *testing.T) {
	t.Parallel()
	// The commands only change the throttler's settings: a pool that never
	// connects is enough.
	db, err := sql.Open("mysql", "u@tcp(127.0.0.1:1)/d")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	th, err := throttle.New(throttle.Config{DB: db, Database: "d", HeartbeatTable: "hb"})
	if err != nil {
		t.Fatal(err)
	}
	var k Knobs
	k.Init(1000, 1500*time.Millisecond, "Threads_running=20")
	m, log := metrics.New(), slog.New(slog.DiscardHandler)
	send := func(line string) (string, bool, error) {
		t.Helper()
		cmd, err := control.ParseCommand(line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		return k.Command(cmd, th, m, log, "paused: the work stops")
	}
	if reply, ok, err := send("pause"); !ok || err != nil || reply != "paused: the work stops" || !k.Paused() {
		t.Errorf("pause: %q %v %v; paused %v", reply, ok, err, k.Paused())
	}
	if _, _, _ = send("resume"); k.Paused() {
		t.Error("still paused after resume")
	}
	k.AdaptChunkSize(2500)
	if k.ChunkSize() != 2500 || k.ChunkSizeFixed() {
		t.Errorf("adapted chunk size %d, fixed %v", k.ChunkSize(), k.ChunkSizeFixed())
	}
	if reply, _, err := send("chunk-size=300"); err != nil || reply != "chunk size is now 300 rows" {
		t.Errorf("chunk-size: %q %v", reply, err)
	}
	k.AdaptChunkSize(9000) // the operator's size stays
	if k.ChunkSize() != 300 || !k.ChunkSizeFixed() {
		t.Errorf("chunk size %d after the operator's 300, fixed %v", k.ChunkSize(), k.ChunkSizeFixed())
	}
	if reply, _, err := send("max-lag-millis=800"); err != nil || k.MaxLagMillis() != 800 || !strings.Contains(reply, "800 ms") {
		t.Errorf("max-lag-millis: %q %v, now %d", reply, err, k.MaxLagMillis())
	}
	if reply, _, err := send("max-load=Threads_running=50"); err != nil || k.MaxLoad() != "Threads_running=50" || !strings.Contains(reply, "Threads_running=50") {
		t.Errorf("max-load: %q %v, now %q", reply, err, k.MaxLoad())
	}
	if _, ok, _ := send("cut-over"); ok {
		t.Error("cut-over is the run's own command, not a knob")
	}
}

func TestFireHookWithoutHooks(t *testing.T) {
	t.Parallel()
	if err := FireHook(context.Background(), nil, "on-startup", hooks.Facts{}, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
}

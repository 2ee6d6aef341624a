package operate

import (
	"strings"
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/control"
)

func TestSettingsDefaultsAndValidate(t *testing.T) {
	t.Parallel()
	var s Settings
	s.Defaults()
	if s.MaxRedoFill != DefaultMaxRedoFill || s.ProgressInterval != DefaultProgressInterval || s.ReconnectTimeout != DefaultReconnectTimeout || s.Throttle.MaxLag == 0 {
		t.Fatalf("Defaults left %+v", s)
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Settings)
		want   string
	}{
		{"no rows a chunk", func(s *Settings) { s.ChunkSize = -1 }, "--chunk-size must be between 1 and "},
		{"chunks too large", func(s *Settings) { s.ChunkSize = control.MaxChunkSize + 1 }, "--chunk-size must be between 1 and "},
		{"a negative chunk time", func(s *Settings) { s.ChunkTime = -time.Second }, "--chunk-time must be between 0 and 1m, not -1s"},
		{"a chunk time over a minute", func(s *Settings) { s.ChunkTime = 2 * time.Minute }, "--chunk-time must be between 0 and 1m, not 2m0s"},
		{"redo fill over 100%", func(s *Settings) { s.MaxRedoFill = 1.5 }, "--max-redo-fill must be between 1 and 100 (percent), not 150"},
		{"progress too often", func(s *Settings) { s.ProgressInterval = time.Millisecond }, "--progress-interval must be at least 100ms, not 1ms"},
		{"reconnect too short", func(s *Settings) { s.ReconnectTimeout = time.Millisecond }, "--reconnect-timeout must be between 1s and 24h, not 1ms"},
		{"the throttle's own", func(s *Settings) { s.Throttle.MaxLoad = "Threads_running" }, "--max-load: "},
	}
	for _, tt := range tests {
		c := s
		tt.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

// TestSettingsSizer: a fixed size without ChunkTime; with it, a sizer that
// starts at ChunkSize within the adaptive bounds.
func TestSettingsSizer(t *testing.T) {
	t.Parallel()
	s := Settings{ChunkSize: 5000}
	if s.Sizer() != nil {
		t.Error("Sizer without ChunkTime is not nil: a fixed size was asked for")
	}
	s.ChunkTime = DefaultChunkTime
	sz := s.Sizer()
	if sz == nil || sz.Target != DefaultChunkTime || sz.Size() != 5000 || sz.Min != MinChunkRows || sz.Max != MaxChunkRows {
		t.Fatalf("Sizer = %+v, want target %s, start 5000 within [%d, %d]", sz, DefaultChunkTime, MinChunkRows, MaxChunkRows)
	}
	s.ChunkSize = 10 * MaxChunkRows
	if got := s.Sizer().Size(); got != MaxChunkRows {
		t.Errorf("a start above the bound: first size %d, want %d", got, MaxChunkRows)
	}
}

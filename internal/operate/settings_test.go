package operate

import (
	"strings"
	"testing"
	"time"
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

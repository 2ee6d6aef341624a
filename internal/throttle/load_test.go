package throttle

import (
	"strings"
	"testing"
)

func TestParseLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    string // the Load's String, when no error is expected
		wantErr string
	}{
		{in: "", want: ""},
		{in: "  ", want: ""},
		{in: "Threads_running=25", want: "Threads_running=25"},
		{in: "Threads_running=25,Threads_connected=500", want: "Threads_running=25,Threads_connected=500"},
		{in: " Threads_running = 25 , Threads_connected=500 ", want: "Threads_running=25,Threads_connected=500"},
		{in: "Threads_running=abc", wantErr: "'Threads_running=abc': the threshold 'abc' is not a positive whole number"},
		{in: "Threads_running=0", wantErr: "'Threads_running=0': the threshold '0' is not a positive whole number"},
		{in: "Threads_running=-3", wantErr: "the threshold '-3' is not a positive whole number"},
		{in: "Threads_running=2.5", wantErr: "the threshold '2.5' is not a positive whole number"},
		{in: "Threads_running", wantErr: "'Threads_running': expected name=threshold, such as Threads_running=25"},
		{in: "=25", wantErr: "'=25': the status variable name is missing before '='"},
		{in: "Threads running=25", wantErr: "'Threads running=25': 'Threads running' is not a status variable name"},
		{in: "x';DROP=1", wantErr: "is not a status variable name"},
		{in: "Threads_running=1,threads_RUNNING=2", wantErr: "'threads_RUNNING=2': threads_RUNNING is given more than once"},
		{in: "Threads_running=1,,Threads_connected=2", wantErr: "has an empty entry between commas"},
		{in: "Threads_running=1,", wantErr: "has an empty entry between commas"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLoad(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseLoad(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLoad(%q): %v", tt.in, err)
			}
			if got.String() != tt.want {
				t.Fatalf("ParseLoad(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestLoadCrossed shows the comparison: at or above the threshold, by name
// whatever its case, the first crossed limit speaking.
func TestLoadCrossed(t *testing.T) {
	t.Parallel()
	l := Load{{"Threads_running", 25}, {"Threads_connected", 500}}
	tests := []struct {
		status map[string]int64
		want   string
	}{
		{map[string]int64{"threads_running": 24, "threads_connected": 499}, ""},
		{map[string]int64{"threads_running": 25}, "Threads_running=25 >= 25"},
		{map[string]int64{"threads_running": 1, "threads_connected": 900}, "Threads_connected=900 >= 500"},
		{map[string]int64{}, ""},
	}
	for _, tt := range tests {
		if got := l.crossed(tt.status); got != tt.want {
			t.Errorf("crossed(%v) = %q, want %q", tt.status, got, tt.want)
		}
	}
}

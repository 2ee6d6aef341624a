package control

import (
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line    string
		want    Command
		wantErr string // substring of the error; "" for success
	}{
		{line: "status", want: Command{Name: CmdStatus}},
		{line: "  STATUS \r\n", want: Command{Name: CmdStatus}},
		{line: "status json", want: Command{Name: CmdStatus, Arg: "json"}},
		{line: "status --json", want: Command{Name: CmdStatus, Arg: "json"}},
		{line: "status=json", want: Command{Name: CmdStatus, Arg: "json"}},
		{line: "sup", want: Command{Name: CmdStatus}},
		{line: "status yaml", wantErr: `status takes no argument but json, not "yaml"`},
		{line: "pause", want: Command{Name: CmdPause}},
		{line: "throttle", want: Command{Name: CmdPause}},
		{line: "resume", want: Command{Name: CmdResume}},
		{line: "no-throttle", want: Command{Name: CmdResume}},
		{line: "pause now", wantErr: "pause takes no argument"},
		{line: "cut-over", want: Command{Name: CmdCutOver}},
		{line: "unpostpone", want: Command{Name: CmdCutOver}},
		{line: "abort", want: Command{Name: CmdAbort}},
		{line: "panic", want: Command{Name: CmdAbort}},
		{line: "help", want: Command{Name: CmdHelp}},
		{line: "?", want: Command{Name: CmdHelp}},
		{line: "chunk-size=500", want: Command{Name: CmdChunkSize, Arg: "500"}},
		{line: "chunk-size 500", want: Command{Name: CmdChunkSize, Arg: "500"}},
		{line: "chunk-size = 500", want: Command{Name: CmdChunkSize, Arg: "500"}},
		{line: "chunk-size=0500", want: Command{Name: CmdChunkSize, Arg: "500"}},
		{line: "chunk-size=1000000", want: Command{Name: CmdChunkSize, Arg: "1000000"}},
		{line: "chunk-size", wantErr: "chunk-size needs a number"},
		{line: "chunk-size=", wantErr: "chunk-size needs a number"},
		{line: "chunk-size=0", wantErr: "chunk-size must be between 1 and 1000000, not 0"},
		{line: "chunk-size=-5", wantErr: "chunk-size must be between 1 and 1000000, not -5"},
		{line: "chunk-size=1000001", wantErr: "must be between"},
		{line: "chunk-size=5k", wantErr: `chunk-size needs a whole number, not "5k"`},
		{line: "chunk-size=99999999999999999999", wantErr: "needs a whole number"},
		{line: "max-lag-millis=1500", want: Command{Name: CmdMaxLagMillis, Arg: "1500"}},
		{line: "max-lag-millis=0", wantErr: "max-lag-millis must be between 1 and 3600000"},
		{line: "max-lag-millis=1.5", wantErr: "needs a whole number"},
		{line: "max-load=Threads_running=25", want: Command{Name: CmdMaxLoad, Arg: "Threads_running=25"}},
		{line: "max-load=Threads_running=25, Threads_connected = 500", want: Command{Name: CmdMaxLoad, Arg: "Threads_running=25,Threads_connected=500"}},
		{line: "max-load=", want: Command{Name: CmdMaxLoad, Arg: ""}},
		{line: "max-load", wantErr: "max-load needs a spec"},
		{line: "max-load=Threads_running", wantErr: "status-variable=number pairs"},
		{line: "max-load=Threads_running=lots", wantErr: "must be a whole number of at least 0"},
		{line: "max-load=Threads_running=-1", wantErr: "must be a whole number of at least 0"},
		{line: "max-load=1abc=5", wantErr: "status-variable=number pairs"},
		{line: "max-load=Threads;DROP=5", wantErr: "status-variable=number pairs"},
		{line: "max-load=Threads_running=25,", wantErr: "status-variable=number pairs"},
		{line: "", wantErr: "empty command"},
		{line: "   ", wantErr: "empty command"},
		{line: "drop table", wantErr: `unknown command "drop"`},
		{line: "chunksize=5", wantErr: `unknown command "chunksize"`},
		{line: "status " + strings.Repeat("x", MaxLineBytes), wantErr: "longer than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			got, err := ParseCommand(tt.line)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseCommand(%q) = %+v, %v; want error containing %q", tt.line, got, err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error spans lines: %q", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseCommand(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
			}
			// What String spells, ParseCommand reads back the same.
			again, err := ParseCommand(got.String())
			if err != nil || again != got {
				t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", got.String(), again, err, got)
			}
		})
	}
}

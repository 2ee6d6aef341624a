package control

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		d    Duration
		json string
	}{
		{0, "0"},
		{Duration(1500 * time.Millisecond), "1.5"},
		{Duration(17 * time.Second), "17"},
		{Duration(time.Microsecond), "0.000001"},
		{-1, "null"},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.d)
		if err != nil || string(b) != tt.json {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tt.d, b, err, tt.json)
		}
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || back != tt.d {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", b, back, err, tt.d)
		}
	}
	var d Duration
	if err := json.Unmarshal([]byte(`"17s"`), &d); err == nil {
		t.Error("Unmarshal of a string succeeded")
	}
}

// TestStatusJSONSurvivesBadHandler checks that a handler's NaN and nil
// lists still give valid JSON with arrays.
func TestStatusJSONSurvivesBadHandler(t *testing.T) {
	t.Parallel()
	st := Status{Phase: "copy", Percent: math.NaN(), RowsPerSecond: math.Inf(1), ETA: -1,
		ThrottleReasons: []string{"lag 1.2s > 1s"}}
	var b strings.Builder
	if err := st.encodeJSON(&b, false); err != nil {
		t.Fatalf("encode: %v", err)
	}
	for _, want := range []string{`"percent":0`, `"rows_per_second":0`, `"eta_seconds":null`, `"replicas":[]`, `"lag 1.2s > 1s"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("JSON lacks %s: %s", want, b.String())
		}
	}
	if text := st.String(); !strings.Contains(text, "(0.0%), 0 rows/s, eta unknown") {
		t.Errorf("text status:\n%s", text)
	}
}

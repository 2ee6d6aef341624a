package control

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tailor-osc/tailor/internal/metrics"
)

func listenHTTP(t *testing.T, h Handler, reg *prometheus.Registry) string {
	t.Helper()
	s, err := ListenHTTP(t.Context(), "127.0.0.1:0", h, reg, testLogger(t))
	if err != nil {
		t.Fatalf("ListenHTTP: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return "http://" + s.Addr()
}

// do sends one request and returns the status code and body.
func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, string(b)
}

func newRequest(t *testing.T, method, u, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestHTTPStatusJSON(t *testing.T) {
	t.Parallel()
	base := listenHTTP(t, &fakeHandler{}, nil)
	code, body := do(t, newRequest(t, "GET", base+"/status", ""))
	if code != http.StatusOK {
		t.Fatalf("GET /status = %d %s", code, body)
	}
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("decode /status: %v\n%s", err, body)
	}
	want := testStatus()
	if st.Phase != want.Phase || st.RowsCopied != want.RowsCopied || st.ETA != want.ETA ||
		len(st.Replicas) != 2 || st.Replicas[0].Lag != want.Replicas[0].Lag || !st.CutOverPostponed {
		t.Errorf("GET /status = %+v, want %+v", st, want)
	}
	// The JSON names are the documented ones.
	for _, key := range []string{`"eta_seconds": 17`, `"lag_seconds": null`, `"rows_copied": 1500`, `"throttle_reasons"`} {
		if !strings.Contains(body, key) {
			t.Errorf("GET /status lacks %s:\n%s", key, body)
		}
	}
	code, body = do(t, newRequest(t, "GET", base+"/status?format=text", ""))
	if code != http.StatusOK || !strings.Contains(body, "phase: copy\n") {
		t.Errorf("GET /status?format=text = %d %q", code, body)
	}
}

func TestHTTPCommand(t *testing.T) {
	t.Parallel()
	h := &fakeHandler{refuse: map[string]error{CmdCutOver: errRefused}}
	base := listenHTTP(t, h, nil)
	tests := []struct {
		name     string
		req      *http.Request
		wantCode int
		wantBody string
	}{
		{"body", newRequest(t, "POST", base+"/command", "chunk-size=500"), 200, "ok: chunk-size=500\n"},
		{"body with newline", newRequest(t, "POST", base+"/command", "pause\n"), 200, "ok: pause\n"},
		{"query", newRequest(t, "POST", base+"/command?cmd="+url.QueryEscape("max-load=Threads_running=25"), ""), 200, "ok: max-load=Threads_running=25\n"},
		{"status", newRequest(t, "POST", base+"/command", "status"), 200, "phase: copy\n"},
		{"unknown", newRequest(t, "POST", base+"/command", "frobnicate"), 400, "error: unknown command \"frobnicate\"; send help for the list\n"},
		{"bad number", newRequest(t, "POST", base+"/command", "chunk-size=lots"), 400, "error: chunk-size needs a whole number, not \"lots\"\n"},
		{"two lines", newRequest(t, "POST", base+"/command", "pause\nabort"), 400, "error: one command per request\n"},
		{"refused", newRequest(t, "POST", base+"/command", "cut-over"), 409, "error: cut-over is not postponed\n"},
		{"too long", newRequest(t, "POST", base+"/command", strings.Repeat("x", 10000)), 413, "error: http: request body too large\n"},
		{"GET not allowed", newRequest(t, "GET", base+"/command?cmd=abort", ""), 405, ""},
		{"help", newRequest(t, "GET", base+"/", ""), 200, "tailor control commands"},
		{"no metrics without registry", newRequest(t, "GET", base+"/metrics", ""), 404, ""},
	}
	for _, tt := range tests {
		code, body := do(t, tt.req)
		if code != tt.wantCode || !strings.Contains(body, tt.wantBody) {
			t.Errorf("%s: %d %q, want %d containing %q", tt.name, code, body, tt.wantCode, tt.wantBody)
		}
	}
	got := h.received()
	want := []Command{{CmdChunkSize, "500"}, {CmdPause, ""}, {CmdMaxLoad, "Threads_running=25"}, {CmdCutOver, ""}}
	if len(got) != len(want) {
		t.Fatalf("handler received %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("command %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestHTTPMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	m.SetPhase("copy")
	m.ObserveChunk(7, time.Millisecond)
	base := listenHTTP(t, &fakeHandler{}, m.Registry())
	code, body := do(t, newRequest(t, "GET", base+"/metrics", ""))
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d\n%s", code, body)
	}
	for _, want := range []string{"tailor_rows_copied_total 7\n", `tailor_phase{phase="copy"} 1` + "\n", "# HELP tailor_backlog_events "} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /metrics lacks %q", want)
		}
	}
}

func TestHTTPRefusesRemote(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr    string
		refused bool
	}{
		{"0.0.0.0:0", true},
		{":0", true},
		{"[::]:0", true},
		{"192.0.2.1:0", true},
		{"example.com:0", true},
		{"127.0.0.1", true}, // no port: refused as malformed
		{"127.0.0.1:0", false},
		{"127.0.0.2:0", false},
		{"localhost:0", false},
		{"LOCALHOST:0", false},
	}
	for _, tt := range tests {
		err := checkLoopback(tt.addr)
		if (err != nil) != tt.refused {
			t.Errorf("checkLoopback(%q) = %v, want refused=%v", tt.addr, err, tt.refused)
		}
	}
	_, err := ListenHTTP(t.Context(), "0.0.0.0:0", &fakeHandler{}, nil, testLogger(t))
	if err == nil || !strings.Contains(err.Error(), "is not loopback") {
		t.Fatalf("ListenHTTP on 0.0.0.0 = %v, want refusal", err)
	}
	// Explicitly allowed, it listens.
	s, err := ListenHTTP(t.Context(), "0.0.0.0:0", &fakeHandler{}, nil, testLogger(t), AllowRemote())
	if err != nil {
		t.Fatalf("ListenHTTP on 0.0.0.0 with AllowRemote: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestHTTPBrowserAttacks checks the two ways a web page in the operator's
// browser could reach a loopback endpoint: a name that resolves to
// 127.0.0.1 (DNS rebinding) and a cross-site form POST.
func TestHTTPBrowserAttacks(t *testing.T) {
	t.Parallel()
	h := &fakeHandler{}
	base := listenHTTP(t, h, nil)

	req := newRequest(t, "GET", base+"/status", "")
	req.Host = "attacker.example:8080"
	if code, _ := do(t, req); code != http.StatusMisdirectedRequest {
		t.Errorf("status with a foreign Host = %d, want 421", code)
	}

	req = newRequest(t, "POST", base+"/command", "abort")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://attacker.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if code, _ := do(t, req); code != http.StatusForbidden {
		t.Errorf("cross-site POST = %d, want 403", code)
	}
	if got := h.received(); len(got) != 0 {
		t.Errorf("handler received %v from a browser attack", got)
	}

	// curl sends neither header and passes.
	if code, body := do(t, newRequest(t, "POST", base+"/command", "pause")); code != http.StatusOK {
		t.Errorf("plain POST = %d %q", code, body)
	}
}

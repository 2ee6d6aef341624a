package hooks

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Facts is what a hook is told about the migration. Every field becomes one
// environment variable (see Env); a zero string field becomes an empty
// variable, so every variable is always set and a script may use `set -u`.
type Facts struct {
	Database    string // TAILOR_DATABASE
	Table       string // TAILOR_TABLE: the table being altered
	ShadowTable string // TAILOR_SHADOW_TABLE: the copy being built (e.g. orders_tailor_new)
	OldTable    string // TAILOR_OLD_TABLE: the name the original gets at the cut-over (e.g. orders_tailor_old)
	Alter       string // TAILOR_ALTER: the ALTER clause as given by the operator
	Host        string // TAILOR_HOST: the server migrated, host:port

	Phase         string        // TAILOR_PHASE: the migration's phase name
	Elapsed       time.Duration // TAILOR_ELAPSED_SECONDS, whole seconds
	CopiedRows    int64         // TAILOR_COPIED_ROWS
	TotalRows     int64         // TAILOR_TOTAL_ROWS: an estimate; 0 while unknown
	EventsApplied int64         // TAILOR_EVENTS_APPLIED: captured changes applied to the shadow
	ETA           time.Duration // TAILOR_ETA_SECONDS, whole seconds; empty when <= 0 (unknown)

	// Status is a one-line human-readable summary (TAILOR_STATUS), set for
	// OnStatus. Text, not JSON: hooks are mostly shell scripts, and every
	// number in it is already a variable of its own.
	Status string
	// Error is why the migration failed (TAILOR_ERROR), set for OnFailure.
	Error string
}

// progressPercent is TAILOR_PROGRESS: empty while the total is unknown,
// capped at 100 because the total is an estimate that the copy may exceed.
func (f Facts) progressPercent() string {
	if f.TotalRows <= 0 {
		return ""
	}
	p := 100 * float64(f.CopiedRows) / float64(f.TotalRows)
	p = min(max(p, 0), 100)
	return strconv.FormatFloat(p, 'f', 1, 64)
}

// Env returns the facts as NAME=value strings for event, with hint as
// TAILOR_HINT. The values are passed verbatim through the process's
// environment, never through a shell, so quotes, `$(...)`, and newlines in
// an ALTER or an error message reach the hook as they are. NUL bytes are
// the one exception: execve cannot carry them, so they are dropped.
func (f Facts) Env(event Event, hint string) []string {
	eta := ""
	if f.ETA > 0 {
		eta = strconv.FormatInt(int64(f.ETA/time.Second), 10)
	}
	vars := []struct{ name, value string }{
		{"TAILOR_HOOK", string(event)},
		{"TAILOR_DATABASE", f.Database},
		{"TAILOR_TABLE", f.Table},
		{"TAILOR_SHADOW_TABLE", f.ShadowTable},
		{"TAILOR_OLD_TABLE", f.OldTable},
		{"TAILOR_ALTER", f.Alter},
		{"TAILOR_HOST", f.Host},
		{"TAILOR_PHASE", f.Phase},
		{"TAILOR_ELAPSED_SECONDS", strconv.FormatInt(int64(f.Elapsed/time.Second), 10)},
		{"TAILOR_COPIED_ROWS", strconv.FormatInt(f.CopiedRows, 10)},
		{"TAILOR_TOTAL_ROWS", strconv.FormatInt(f.TotalRows, 10)},
		{"TAILOR_PROGRESS", f.progressPercent()},
		{"TAILOR_ETA_SECONDS", eta},
		{"TAILOR_EVENTS_APPLIED", strconv.FormatInt(f.EventsApplied, 10)},
		{"TAILOR_STATUS", f.Status},
		{"TAILOR_ERROR", f.Error},
		{"TAILOR_HINT", hint},
	}
	env := make([]string, 0, len(vars))
	for _, v := range vars {
		env = append(env, fmt.Sprintf("%s=%s", v.name, strings.ReplaceAll(v.value, "\x00", "")))
	}
	return env
}

// VariableNames returns the names of the variables Env sets, in its order.
// docs/hooks.md lists the same names; a test keeps the two in step.
func VariableNames() []string {
	env := Facts{}.Env("", "")
	names := make([]string, len(env))
	for i, kv := range env {
		names[i], _, _ = strings.Cut(kv, "=")
	}
	return names
}

// Package hooks runs operator-supplied executables at named moments of a
// migration, like gh-ost's --hooks-path: a hook for event E is every file in
// the hooks directory whose name starts with E ("on-success",
// "on-success-notify", ...), run in lexical order with the migration's facts
// in TAILOR_* environment variables.
//
// The contract with the caller: Run reports whether the hooks succeeded and
// does nothing else. The caller decides what a failure means. tailor aborts
// the migration when a hook fails before the cut-over (any event up to and
// including OnBeforeCutOver) and only reports a failing OnSuccess,
// OnFailure or OnStatus hook, since the outcome is decided by then.
//
// Hooks run only from a directory that nobody but the user running tailor
// and root can change (see New): they run with tailor's privileges.
//
// Hooks get their data only through the environment and are executed
// directly (never through `sh -c`), so no value is ever interpreted by a
// shell on the way.
package hooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DefaultTimeout is how long one hook may run when Config.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// Config configures a Runner.
type Config struct {
	// Dir is the hooks directory. It must exist and be a directory.
	Dir string
	// Timeout is how long each hook file may run before its process group is
	// killed. Zero means DefaultTimeout.
	Timeout time.Duration
	// Hint is free text passed to every hook as TAILOR_HINT (gh-ost's
	// --hooks-hint), e.g. a ticket number or the operator's name.
	Hint string
	// Logger receives one Info record per hook run. Nil discards.
	Logger *slog.Logger
	// Env is the environment hooks start from, before the TAILOR_*
	// variables are added (they override any of the same name). Nil means
	// os.Environ() at New; an empty non-nil slice means only TAILOR_*.
	Env []string
}

// Runner runs the hooks of one directory. It is immutable after New, so
// Run may be called from several goroutines at once (an OnStatus ticker
// alongside the migration's own events).
type Runner struct {
	dir     string
	timeout time.Duration
	hint    string
	log     *slog.Logger
	env     []string
	uid     int // the effective uid: who may own hooks, besides root
}

// New checks cfg and returns a Runner for cfg.Dir. It refuses a directory
// that anyone but the user running tailor and root can change, or that
// holds a hook they can change (see checkPath), with one sentence naming
// what is wrong and the chmod or chown that fixes it: tailor runs hooks with
// its own privileges and its database credentials' reach.
func New(cfg Config) (*Runner, error) {
	if cfg.Dir == "" {
		return nil, errors.New("hooks: the hooks directory is not set")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("hooks: the hook timeout must not be negative, got %s", cfg.Timeout)
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("hooks: resolve directory %q: %w", cfg.Dir, err)
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("hooks: the hooks directory %s does not exist", dir)
	case err != nil:
		return nil, fmt.Errorf("hooks: the hooks directory %s cannot be read: %w", dir, err)
	case !st.IsDir():
		return nil, fmt.Errorf("hooks: the hooks path %s is not a directory", dir)
	}
	r := &Runner{dir: dir, timeout: cfg.Timeout, hint: cfg.Hint, log: cfg.Logger, env: slices.Clone(cfg.Env), uid: os.Geteuid()}
	if err := r.checkDir(); err != nil {
		return nil, err
	}
	if err := r.checkHooks(); err != nil {
		return nil, err
	}
	if r.timeout == 0 {
		r.timeout = DefaultTimeout
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Env == nil {
		r.env = os.Environ()
	}
	return r, nil
}

// Dir returns the absolute hooks directory.
func (r *Runner) Dir() string { return r.dir }

// Run runs every hook file for event, in lexical order of file name, each
// with f as TAILOR_* variables, the hooks directory as working directory,
// empty stdin, and its own timeout. No file for the event is not an error:
// Run returns nil having done nothing.
//
// A file that matches but is not executable (or is a broken link) is an
// error naming it, so a permissions typo is not silently a skipped hook.
// So is a hook or a hooks directory that became unsafe after New (see
// New); each file is checked again right before it is executed, since an
// earlier hook of the event may have run for a while.
// A hook that exits non-zero, times out, or cannot start is an error naming
// the file, its exit status and the last few KiB of its output.
//
// For OnSuccess, OnFailure and OnStatus every file runs and the errors are
// joined; for the other events Run stops at the first failure (see
// Event.Reports). Cancelling ctx kills the running hook's process group and
// runs no further hooks. What a failure means is the caller's decision (see
// the package doc).
func (r *Runner) Run(ctx context.Context, event Event, f Facts) error {
	if !event.Valid() {
		return fmt.Errorf("hooks: unknown event %q", event)
	}
	files, err := r.find(event)
	if err != nil {
		return err
	}
	env := append(slices.Clone(r.env), f.Env(event, r.hint)...)
	var errs []error
	for _, path := range files {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("hook %s not run: %w", filepath.Base(path), err))
			break
		}
		err := r.checkHook(path)
		if err == nil {
			err = r.runFile(ctx, event, path, env)
		}
		if err != nil {
			errs = append(errs, err)
			if !event.Reports() {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// ignoredSuffixes are names that match an event's prefix but are not hooks:
// editor and patch leftovers (which usually keep the original's execute
// bit, so running them would run a stale copy), and ".disabled", the
// documented way to switch a hook off without deleting it.
func ignoredSuffixes() []string {
	return []string{"~", ".bak", ".orig", ".rej", ".swp", ".disabled"}
}

// find returns the paths of event's hook files in lexical order, or an
// error naming the first that matches but cannot be run or is unsafe.
func (r *Runner) find(event Event) ([]string, error) {
	if err := r.checkDir(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, fmt.Errorf("hooks: read directory %s: %w", r.dir, err)
	}
	var files []string
	// os.ReadDir sorts by name, which is the lexical order we promise.
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, string(event)) || hasIgnoredSuffix(name) {
			continue
		}
		path := filepath.Join(r.dir, name)
		st, err := os.Stat(path) // follows links: a link to a script is fine
		if err != nil {
			return nil, fmt.Errorf("hooks: hook %s for %s cannot be run: %w", path, event, err)
		}
		if st.IsDir() {
			continue
		}
		if err := r.checkPath(path, "hook "+path); err != nil {
			return nil, err
		}
		if st.Mode().Perm()&0o111 == 0 {
			return nil, fmt.Errorf("hooks: hook %s for %s is not executable (mode %s); chmod +x it, or rename it to end in .disabled", path, event, st.Mode().Perm())
		}
		files = append(files, path)
	}
	return files, nil
}

func hasIgnoredSuffix(name string) bool {
	for _, s := range ignoredSuffixes() {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

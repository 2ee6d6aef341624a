package versioned

import (
	"context"
	"time"

	"github.com/tailor-osc/tailor/internal/history"
	"github.com/tailor-osc/tailor/internal/migfiles"
)

// The states Status reports of a file.
const (
	StateApplied = "applied"
	StatePending = "pending"
	// StateFailed is a file that stopped at a statement; the next run
	// continues there.
	StateFailed = "failed"
	// StateRunning is a file being run, or one whose run died.
	StateRunning = "running"
	// StateChanged is an applied file whose text changed since.
	StateChanged = "changed"
	// StateMissing is an applied versioned file no longer in the folder.
	StateMissing = "missing"
)

// FileStatus is where one file stands.
type FileStatus struct {
	File        string `json:"file"`
	Version     string `json:"version"`
	Type        string `json:"type"`
	Description string `json:"description"`
	State       string `json:"state"`
	// StatementsDone of StatementsTotal have completed (the history's,
	// or 0 of the file's for a file never run).
	StatementsDone  int `json:"statements_done"`
	StatementsTotal int `json:"statements_total"`
	// InstalledOn is when the latest run of the file began, UTC; nil when
	// it never ran.
	InstalledOn *time.Time `json:"installed_on"`
	Error       string     `json:"error"`
}

// Status reports every file of the folder, and every applied file missing
// from it, in the order they run.
func (r *Runner) Status(ctx context.Context) ([]FileStatus, error) {
	files, err := r.readFolder()
	if err != nil {
		return nil, err
	}
	s, err := r.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer s.db.Close()
	entries, err := readHistory(ctx, s.db, r.cfg.Database)
	if err != nil {
		return nil, err
	}
	return status(files, entries), nil
}

func status(files []*migfiles.File, entries []history.Entry) []FileStatus {
	latest := map[string]*history.Entry{}
	key := func(t history.Type, version, description string) string {
		if t == history.Versioned {
			return "V" + versionKey(version)
		}
		return "R" + description
	}
	for i := range entries {
		e := &entries[i]
		latest[key(e.Type, e.Version, e.Description)] = e
	}
	var out []FileStatus
	seen := map[string]bool{}
	for _, f := range files {
		k := key(history.Type(f.Type), f.Version.String(), f.Description)
		seen[k] = true
		fs := FileStatus{File: f.Path, Version: f.Version.String(), Type: string(f.Type), Description: f.Description,
			State: StatePending, StatementsTotal: len(f.Statements)}
		if e := latest[k]; e != nil {
			on := e.InstalledOn
			fs.InstalledOn, fs.StatementsDone, fs.Error = &on, e.StatementsDone, e.Error
			switch {
			case e.State == history.Applied && e.Checksum == f.Checksum:
				fs.State = StateApplied
			case e.State == history.Applied && f.Type == migfiles.Repeatable:
				fs.State, fs.StatementsDone = StatePending, 0 // changed text: it runs again
			case e.State == history.Applied:
				fs.State = StateChanged
			case e.State == history.Failed:
				fs.State = StateFailed
			default:
				fs.State = StateRunning
			}
		}
		out = append(out, fs)
	}
	for i := range entries {
		e := &entries[i]
		k := key(e.Type, e.Version, e.Description)
		if seen[k] || e.Type != history.Versioned || latest[k] != e {
			continue
		}
		seen[k] = true
		on := e.InstalledOn
		out = append(out, FileStatus{File: e.Script, Version: e.Version, Type: string(e.Type), Description: e.Description,
			State: StateMissing, StatementsDone: e.StatementsDone, StatementsTotal: e.StatementsTotal, InstalledOn: &on, Error: e.Error})
	}
	return out
}

// Validate checks that the folder and the history agree (see Compare); it
// changes nothing.
func (r *Runner) Validate(ctx context.Context) error {
	files, err := r.readFolder()
	if err != nil {
		return err
	}
	s, err := r.connect(ctx)
	if err != nil {
		return err
	}
	defer s.db.Close()
	entries, err := readHistory(ctx, s.db, r.cfg.Database)
	if err != nil {
		return err
	}
	if _, err := Compare(files, entries, r.cfg.OutOfOrder); err != nil {
		return invalid(err)
	}
	return nil
}

// History returns the history's rows, oldest first; none for a database
// never migrated.
func (r *Runner) History(ctx context.Context) ([]history.Entry, error) {
	s, err := r.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer s.db.Close()
	return readHistory(ctx, s.db, r.cfg.Database)
}

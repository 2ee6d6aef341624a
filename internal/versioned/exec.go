package versioned

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/tailor-osc/tailor/internal/history"
	"github.com/tailor-osc/tailor/internal/migfiles"
)

// ExecFile is what Exec runs: one file of statements, outside any history
// (tailor exec), so that another migration runner (Flyway, Liquibase,
// golang-migrate, skeema) can hand tailor the statements it must not run
// itself.
type ExecFile struct {
	// Path is the file to read.
	Path string
	// From is the first statement to run, from 1: the statement a run
	// that stopped named, to continue there. Zero is 1.
	From int
}

// readExecFile reads and classifies a single file, whatever its name.
func readExecFile(e ExecFile) (*migfiles.File, error) {
	data, err := os.ReadFile(e.Path)
	if err != nil {
		return nil, invalid(fmt.Errorf("--file: %w", err))
	}
	stmts, err := migfiles.Parse(string(data))
	if err != nil {
		return nil, invalid(fmt.Errorf("%s: %w", e.Path, err))
	}
	if len(stmts) == 0 {
		return nil, invalid(fmt.Errorf("%s holds no statement", e.Path))
	}
	if e.From > len(stmts) {
		return nil, invalid(fmt.Errorf("--from-statement %d is past the last statement of %s, which has %d", e.From, e.Path, len(stmts)))
	}
	name := filepath.Base(e.Path)
	return &migfiles.File{Path: name, Name: name, Statements: stmts}, nil
}

// Exec runs one file's statements as Apply runs a pending file (each by
// its strategy, the same refusals before anything runs, the same lock of
// the database), or without Execute plans them, recording nothing: a
// rerun starts at From, which the error of a run that stopped names.
func (r *Runner) Exec(ctx context.Context, e ExecFile) (*Result, error) {
	if e.From < 0 {
		return nil, invalid(errors.New("--from-statement must be 1 or more"))
	}
	f, err := readExecFile(e)
	if err != nil {
		return nil, err
	}
	pf := Pending{File: f, Start: max(e.From, 1) - 1, retry: e.From > 1}
	s, err := r.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer s.db.Close()
	if !r.cfg.Execute {
		p, err := r.plan(ctx, s, []Pending{pf})
		if err != nil {
			return nil, err
		}
		return &Result{DryRun: true, Plan: p}, nil
	}
	lock, err := history.Lock(ctx, s.db, r.cfg.Database, max(r.cfg.LockWait, 0))
	if err != nil {
		var le *history.LockedError
		if errors.As(err, &le) {
			return nil, invalid(fmt.Errorf("%w; run again once it has finished", err))
		}
		return nil, err
	}
	defer func() {
		if err := lock.Unlock(context.WithoutCancel(ctx)); err != nil {
			r.log.Warn("could not release the migrate lock", "error", err.Error())
		}
	}()
	if err := r.precheck(ctx, s, []Pending{pf}); err != nil {
		return nil, err
	}
	run := &applyRun{Runner: r, s: s, rec: noRecorder{}, lock: lock, keptOld: map[string]string{}}
	defer run.close()
	fr, err := run.file(ctx, pf)
	res := &Result{}
	if fr != nil {
		res.Files = append(res.Files, *fr)
	}
	return res, err
}

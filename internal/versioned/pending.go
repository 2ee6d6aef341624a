package versioned

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/tailor-osc/tailor/internal/history"
	"github.com/tailor-osc/tailor/internal/migfiles"
)

// Pending is a file to run, and where to start.
type Pending struct {
	File *migfiles.File
	// Entry is the history row of a run that failed or died (state failed
	// or running), which this run continues; nil for a new row.
	Entry *history.Entry
	// Start is the index of the first statement to run: the entry's
	// statements_done, or 0.
	Start int
	// retry marks the statement at Start as one an earlier run stopped at
	// (Exec's --from-statement), as Entry does for Apply.
	retry bool
}

// FolderError is a disagreement between the folder and the history that
// stops every run until it is mended: one sentence naming the file.
type FolderError struct {
	File string
	Msg  string
}

func (e *FolderError) Error() string { return e.Msg }

// Compare works out the pending files of a folder against its history, in
// the order they run: versioned files by version, then repeatable files by
// description, as Flyway runs them. It returns every FolderError found,
// joined: an applied file whose text changed, an applied versioned file
// missing from the folder, a pending versioned file older than the newest
// applied one (unless outOfOrder), a failed file edited in a statement that
// already ran.
func Compare(files []*migfiles.File, entries []history.Entry, outOfOrder bool) ([]Pending, error) {
	var errs []error
	latestVersioned := map[string]*history.Entry{} // by version
	latestRepeatable := map[string]*history.Entry{}
	var newest migfiles.Version
	var newestScript string
	for i := range entries {
		e := &entries[i]
		switch e.Type {
		case history.Versioned:
			latestVersioned[versionKey(e.Version)] = e
			if e.State == history.Applied {
				v, err := migfiles.ParseVersion(e.Version)
				if err == nil && v.Compare(newest) > 0 {
					newest, newestScript = v, e.Script
				}
			}
		case history.Repeatable:
			latestRepeatable[e.Description] = e
		}
	}
	inFolder := map[string]bool{}
	var pending []Pending
	for _, f := range files {
		switch f.Type {
		case migfiles.Versioned:
			key := versionKey(f.Version.String())
			inFolder[key] = true
			e := latestVersioned[key]
			if e == nil {
				if !newest.IsZero() && f.Version.Compare(newest) < 0 && !outOfOrder {
					errs = append(errs, &FolderError{File: f.Path, Msg: fmt.Sprintf(
						"%s is pending but older than version %s (%s), the newest applied: give it a version above %s, or pass --out-of-order to run it anyway",
						f.Path, newest, newestScript, newest)})
					continue
				}
				pending = append(pending, Pending{File: f})
				continue
			}
			if e.State == history.Applied {
				if e.Checksum != f.Checksum {
					errs = append(errs, &FolderError{File: f.Path, Msg: fmt.Sprintf(
						"%s was applied on %s UTC and its text has changed since (checksum %.12s…, now %.12s…): restore the file as it was, and write the change as a new versioned file",
						f.Path, e.InstalledOn.Format("2006-01-02 15:04:05"), e.Checksum, f.Checksum)})
				}
				continue
			}
			p, err := resumeAt(f, e)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			pending = append(pending, p)
		case migfiles.Repeatable:
			e := latestRepeatable[f.Description]
			switch {
			case e == nil:
				pending = append(pending, Pending{File: f})
			case e.State == history.Applied && e.Checksum == f.Checksum:
			case e.State != history.Applied && e.Checksum == f.Checksum:
				// The same text failed or died: continue it where it stopped.
				p, err := resumeAt(f, e)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				pending = append(pending, p)
			default:
				// A repeatable file whose text changed runs again from its
				// first statement, in a row of its own.
				pending = append(pending, Pending{File: f})
			}
		}
	}
	for key, e := range latestVersioned {
		switch {
		case inFolder[key]:
		case e.State == history.Applied:
			errs = append(errs, &FolderError{File: e.Script, Msg: fmt.Sprintf(
				"version %s (%s) is applied on the database but missing from the folder: restore the file",
				e.Version, e.Script)})
		default:
			// Its first statements ran for good: the files after it
			// were written for the schema it makes.
			errs = append(errs, &FolderError{File: e.Script, Msg: fmt.Sprintf(
				"version %s (%s) stopped at statement %d of %d and is missing from the folder: restore the file so that the next run completes it",
				e.Version, e.Script, e.StatementsDone+1, e.StatementsTotal)})
		}
	}
	if len(errs) > 0 {
		sortErrors(errs)
		return nil, errors.Join(errs...)
	}
	return pending, nil
}

// resumeAt continues a file whose run failed or died at the statement after
// those it completed, once it checks that none of those was edited since:
// they ran as they were, and running the rest of a different file would
// leave a schema that no file describes.
func resumeAt(f *migfiles.File, e *history.Entry) (Pending, error) {
	done := min(e.StatementsDone, len(f.Statements))
	for _, r := range e.Statements {
		if r.Index >= done || r.Outcome != history.OutcomeApplied {
			continue
		}
		if r.Checksum != f.Statements[r.Index].Checksum {
			return Pending{}, &FolderError{File: f.Path, Msg: fmt.Sprintf(
				"%s stopped at statement %d, and its statement %d (line %d), which had already run, was edited since: restore that statement as it ran, and write any further change as a new versioned file",
				f.Path, done+1, r.Index+1, f.Statements[r.Index].Line)}
		}
	}
	if e.StatementsDone > len(f.Statements) {
		return Pending{}, &FolderError{File: f.Path, Msg: fmt.Sprintf(
			"%s has %d statements now, but %d of them had already run when it stopped: restore the statements that ran",
			f.Path, len(f.Statements), e.StatementsDone)}
	}
	return Pending{File: f, Entry: e, Start: done}, nil
}

// versionKey compares versions as numbers ("1.01" is "1.1"), the way
// migfiles orders them.
func versionKey(s string) string {
	v, err := migfiles.ParseVersion(s)
	if err != nil {
		return s
	}
	out := ""
	for i, part := range splitVersion(v) {
		if i > 0 {
			out += "."
		}
		out += part
	}
	return out
}

// splitVersion is v's numeric parts without leading zeros or trailing
// zero parts ("1.0" is "1").
func splitVersion(v migfiles.Version) []string {
	var parts []string
	cur := ""
	for _, r := range v.String() + "." {
		if r == '.' {
			for len(cur) > 1 && cur[0] == '0' {
				cur = cur[1:]
			}
			if cur == "" {
				cur = "0"
			}
			parts = append(parts, cur)
			cur = ""
			continue
		}
		cur += string(r)
	}
	for len(parts) > 1 && parts[len(parts)-1] == "0" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// sortErrors orders the errors by file, so that a report reads as the
// folder does.
func sortErrors(errs []error) {
	slices.SortStableFunc(errs, func(a, b error) int { return cmp.Compare(errorFile(a), errorFile(b)) })
}

func errorFile(err error) string {
	var fe *FolderError
	if errors.As(err, &fe) {
		return fe.File
	}
	return ""
}

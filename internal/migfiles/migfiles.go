// Package migfiles reads a folder of versioned migration files, the way
// teams keep their schema: Flyway's naming (V<version>__<description>.sql
// and R__<description>.sql), plain SQL with several statements per file,
// DELIMITER for routines, and "-- tailor:" directive comments.
//
// It reads and classifies, and does nothing else: no server is needed, so
// a folder can be checked in CI before it reaches a database. Each
// statement comes out with its line, its checksum and its kind, so the
// runner can route ALTERs (and CREATE/DROP INDEX, which are ALTERs) to the
// online engine, run the rest directly, and resume a file at the
// statement where it stopped, since MySQL DDL is not transactional.
package migfiles

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"unicode/utf8"
)

// File is one migration file.
type File struct {
	// Path is the file's path in the folder, with "/" separators; Name is
	// its last element, which Flyway records as the script.
	Path, Name string
	Type       Type
	// Version is zero for a repeatable file.
	Version Version
	// Description is the part of the name after "__", with "_" read as a
	// space, as Flyway shows it.
	Description string
	// Checksum is the sha256, in hex, of the file's exact bytes: it
	// identifies the text the user wrote, whatever tailor made of it, so
	// an applied file that is edited later is noticed.
	Checksum   string
	Statements []Statement
}

// Statement is one statement of a file.
type Statement struct {
	// Index is the statement's position in its file, from 0; a file that
	// failed after n statements resumes at index n.
	Index int
	// Line is the 1-based line of the statement's first character.
	Line int
	// Text is the statement as written, without the comments before it,
	// its delimiter and surrounding whitespace.
	Text string
	// Checksum is the sha256, in hex, of Text.
	Checksum string
	// Directives are the "-- tailor:" comment lines written before the
	// statement.
	Directives []Directive
	Class
}

// Has reports whether the statement carries directive d.
func (s *Statement) Has(d Directive) bool { return slices.Contains(s.Directives, d) }

// Error is a problem with one file, at a line when Line is not 0. Its
// message names the file and reads as one sentence.
type Error struct {
	Path string
	Line int
	Msg  string
}

// Error returns the message for the user.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s, line %d: %s", e.Path, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Path, e.Msg)
}

// Read reads every migration file under the root of fsys, in the order they
// run: versioned files by ascending version, then repeatable files by
// description (Flyway's order). Files that do not end in .sql, such as a
// README or Flyway's .conf, are ignored, as are hidden files and folders.
// Every problem found is returned, joined, each as an *Error: a .sql file
// whose name does not follow the naming, two files of one version (or of
// one repeatable description), a file that does not split into statements,
// and a statement that cannot be classified.
func Read(fsys fs.FS) ([]*File, error) {
	var files []*File
	var errs []error
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != "." && name[0] == '.' {
				return fs.SkipDir // .git and the like
			}
			return nil
		}
		if !isSQL(name) {
			return nil
		}
		f, err := readFile(fsys, p)
		switch {
		case err != nil:
			errs = append(errs, err)
		case f != nil:
			files = append(files, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read migrations folder: %w", err)
	}
	sortFiles(files)
	errs = append(errs, duplicates(files)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return files, nil
}

// readFile reads and splits one file; it returns nil, nil for a file that
// is skipped on purpose (a Flyway undo migration).
func readFile(fsys fs.FS, p string) (*File, error) {
	name := baseName(p)
	pn, ok, err := parseName(name)
	if err != nil {
		return nil, &Error{Path: p, Msg: err.Error()}
	}
	if !ok {
		return nil, nil
	}
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, &Error{Path: p, Msg: "cannot be read: " + err.Error()}
	}
	f := &File{
		Path: p, Name: name, Type: pn.typ, Version: pn.version, Description: pn.description,
		Checksum: checksum(data),
	}
	stmts, err := Parse(string(data))
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, &Error{Path: p, Line: pe.Line, Msg: pe.Msg}
		}
		return nil, &Error{Path: p, Msg: err.Error()}
	}
	f.Statements = stmts
	return f, nil
}

// ParseError is a problem at a line of a file's text.
type ParseError struct {
	Line int
	Msg  string
}

// Error returns the message with its line.
func (e *ParseError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// Parse splits a file's text into statements and classifies each. It is
// Read's work on one file, for a caller that has the text alone (tailor
// exec --file). Errors are *ParseError.
func Parse(text string) ([]Statement, error) {
	if !utf8.ValidString(text) {
		// The parser and the server would read invalid bytes differently.
		return nil, &ParseError{Line: 1, Msg: "the file is not valid UTF-8"}
	}
	// A byte-order mark, which some Windows editors write, is not SQL; the
	// server would reject the first statement over it. The file's checksum
	// still covers it, as it covers every byte.
	raws, err := split(strings.TrimPrefix(text, "\ufeff"))
	if err != nil {
		return nil, err
	}
	stmts := make([]Statement, 0, len(raws))
	for i, r := range raws {
		c, err := Classify(r.text)
		if err != nil {
			return nil, &ParseError{Line: r.line, Msg: err.Error()}
		}
		stmts = append(stmts, Statement{
			Index: i, Line: r.line, Text: r.text, Checksum: checksum([]byte(r.text)),
			Directives: r.directives, Class: c,
		})
	}
	return stmts, nil
}

// checksum is the sha256 of data in hex.
func checksum(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// sortFiles puts files in run order (see Read). Equal versions are ordered
// by path so that the duplicate error names them in a stable order.
func sortFiles(files []*File) {
	slices.SortStableFunc(files, func(a, b *File) int {
		if a.Type != b.Type {
			if a.Type == Versioned {
				return -1
			}
			return 1
		}
		if c := a.Version.Compare(b.Version); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Description, b.Description); c != 0 {
			return c
		}
		return cmp.Compare(a.Path, b.Path)
	})
}

// duplicates reports files of sorted that share a version, or a repeatable
// description: the history could not tell them apart.
func duplicates(sorted []*File) []error {
	var errs []error
	for i := 1; i < len(sorted); i++ {
		a, b := sorted[i-1], sorted[i]
		switch {
		case a.Type != b.Type:
		case a.Type == Versioned && a.Version.Compare(b.Version) == 0:
			errs = append(errs, &Error{Path: b.Path, Msg: fmt.Sprintf("has version %s, the same version as %s", b.Version, a.Path)})
		case a.Type == Repeatable && a.Description == b.Description:
			errs = append(errs, &Error{Path: b.Path, Msg: fmt.Sprintf("has the description %q, the same as the repeatable file %s", b.Description, a.Path)})
		}
	}
	return errs
}

package hooks

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Whoever can change a hook, or the directory it is found in, or any
// directory on the way to either, can make tailor run their code with
// tailor's privileges and its database credentials. So before a hook runs,
// every entry on its path, symbolic links followed, must be owned by the
// user running tailor or by root, and must not be writable by anyone else.
//
// The one exception is the one the kernel itself makes safe: a directory
// on the way (not the hooks directory) may be writable by others when it
// has the sticky bit, like /tmp, because then nobody but the owner of an
// entry (checked too) or of the directory can rename or remove it
// (rename(2), unlink(2): EPERM). A hook's target may therefore sit in such
// a directory: others can add files beside it but not replace it.
//
// A group-writable entry is refused even when the group has no other
// member (a per-user group under umask 002): the group file is not
// tailor's to read, and "chmod g-w" costs nothing. Only owners and mode
// bits are looked at, not POSIX ACLs.

const (
	// writableByOthers is S_IWGRP|S_IWOTH.
	writableByOthers = 0o022
	// sticky is S_ISVTX.
	sticky = 0o1000
	// maxLinks bounds the symbolic links followed on one path; it is the
	// kernel's own limit (ELOOP after 40).
	maxLinks = 40
)

// checkDir refuses the hooks directory unless it and every directory on the
// way to it are safe (see above).
func (r *Runner) checkDir() error {
	return r.checkPath(r.dir, "the hooks directory "+r.dir)
}

// checkHook refuses the hook file at path (inside the hooks directory)
// unless the hooks directory, the file (the target when path is a symbolic
// link) and every directory and link on the way to either are safe.
func (r *Runner) checkHook(path string) error {
	if err := r.checkDir(); err != nil {
		return err
	}
	return r.checkPath(path, "hook "+path)
}

// checkPath resolves the absolute path component by component, as the
// kernel does when it opens or executes it, checks each directory and link
// it passes through and then the entry it ends at, and returns the first
// problem as one sentence naming the entry and the command that fixes it.
// subject names path for the message ("hook /etc/tailor/on-success").
//
// Resolving by hand rather than checking filepath.EvalSymlinks's result is
// deliberate: the directory holding a link matters as much as the link's
// target (whoever can write there can point the link elsewhere), and a
// resolved path no longer shows those directories.
func (r *Runner) checkPath(path, subject string) error {
	done := "/" // resolved so far: a path without links, every entry checked
	fi, err := os.Lstat(done)
	if err != nil {
		return fmt.Errorf("hooks: check %s: %w", subject, err)
	}
	if err := r.checkEntry(done, fi, path, subject, false); err != nil {
		return err
	}
	todo := components(path)
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if name == ".." {
			// The parent of a checked path is on that path, so checked.
			done = filepath.Dir(done)
			continue
		}
		next := filepath.Join(done, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return fmt.Errorf("hooks: check %s: %w", subject, err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			// The last entry is checked below, strictly.
			if len(todo) > 0 {
				if err := r.checkEntry(next, fi, path, subject, false); err != nil {
					return err
				}
			}
			done = next
			continue
		}
		if err := r.checkEntry(next, fi, path, subject, false); err != nil {
			return err
		}
		if links++; links > maxLinks {
			return fmt.Errorf("hooks: check %s: too many levels of symbolic links", subject)
		}
		target, err := os.Readlink(next)
		if err != nil {
			return fmt.Errorf("hooks: check %s: %w", subject, err)
		}
		if filepath.IsAbs(target) {
			done = "/"
		}
		todo = append(components(target), todo...)
	}
	// What the path ends at is checked again, strictly: the hooks directory
	// must not take new files from anyone else, sticky bit or not, and a
	// hook must not be writable by anyone else.
	if fi, err = os.Lstat(done); err != nil {
		return fmt.Errorf("hooks: check %s: %w", subject, err)
	}
	return r.checkEntry(done, fi, path, subject, true)
}

// checkEntry checks one entry of the walk (a directory on the way, a link,
// or with final set what the path ends at) and returns nil or the sentence
// for the operator.
func (r *Runner) checkEntry(entry string, fi os.FileInfo, path, subject string, final bool) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("hooks: check %s: no owner and mode for %s", subject, entry)
	}
	what := describe(entry, fi, path, subject, final)
	if uid := int(st.Uid); uid != r.uid && uid != 0 {
		chown := "chown"
		if fi.Mode()&os.ModeSymlink != 0 {
			chown = "chown -h" // the link, not its target
		}
		return fmt.Errorf("hooks: %s is owned by uid %d, neither the user running tailor (uid %d) nor root, so that user could make tailor run their code; fix it with %q",
			what, uid, r.uid, fmt.Sprintf("%s %d %s", chown, r.uid, entry))
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		// A link's own mode is always 0777 and means nothing: a link
		// cannot be changed, only replaced, and that takes the directory
		// holding it, which is checked already.
		return nil
	}
	mode := st.Mode & 0o7777
	switch {
	case mode&writableByOthers == 0:
		return nil
	case final:
		return fmt.Errorf("hooks: %s is writable by users other than its owner (mode %04o), so they could make tailor run their code; fix it with %q",
			what, mode, "chmod go-w "+entry)
	case mode&sticky == 0:
		return fmt.Errorf("hooks: %s is writable by users other than its owner and has no sticky bit (mode %04o), so they could rename what it holds and put their own in its place; fix it with %q",
			what, mode, "chmod go-w "+entry)
	}
	return nil
}

// describe names entry for a message, by its part in reaching path.
func describe(entry string, fi os.FileInfo, path, subject string, final bool) string {
	switch {
	case entry == path:
		return subject
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Sprintf("the symbolic link %s, on the way to %s,", entry, subject)
	case final:
		return fmt.Sprintf("%s, which %s links to,", entry, subject)
	default:
		return fmt.Sprintf("%s, a directory on the way to %s,", entry, subject)
	}
}

// components splits a slash-separated path into its names, without the
// empty and "." ones (".." is kept: it depends on what came before).
func components(path string) []string {
	var names []string
	for _, name := range strings.Split(path, "/") {
		if name != "" && name != "." {
			names = append(names, name)
		}
	}
	return names
}

// checkHooks refuses the directory's hook files that are unsafe: every
// entry whose name makes it a hook of some event, as Run would pick it. A
// hook that cannot be stat'ed (gone, a broken link or a loop of links) is
// left to Run to report: it is not unsafe, only unrunnable. Directories
// never run.
func (r *Runner) checkHooks() error {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return fmt.Errorf("hooks: read directory %s: %w", r.dir, err)
	}
	for _, e := range entries {
		if !isHookName(e.Name()) {
			continue
		}
		path := filepath.Join(r.dir, e.Name())
		st, err := os.Stat(path)
		if err != nil || st.IsDir() {
			continue
		}
		if err := r.checkPath(path, "hook "+path); err != nil {
			return err
		}
	}
	return nil
}

// isHookName reports whether a file of this name would run for some event.
func isHookName(name string) bool {
	if hasIgnoredSuffix(name) {
		return false
	}
	for _, e := range Events() {
		if strings.HasPrefix(name, string(e)) {
			return true
		}
	}
	return false
}

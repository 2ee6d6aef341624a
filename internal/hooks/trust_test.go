package hooks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// mkdir makes dir with exactly mode.
func mkdir(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	chmod(t, dir, mode)
	return dir
}

// chmod sets mode exactly, sticky bit included.
func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if mode&0o1000 != 0 {
		mode = mode&^0o1000 | os.ModeSticky
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// wantRefused fails unless err is one sentence containing every want.
func wantRefused(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want a refusal saying %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %v\nwant it to contain %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %q, want one line", err)
	}
}

func TestNewRefusesUnsafePaths(t *testing.T) {
	t.Parallel()
	// Each setup builds a hooks directory under base (mode 0700) and
	// returns it with what the refusal must say, or no want when the
	// directory is safe.
	tests := []struct {
		name  string
		setup func(t *testing.T, base string) (dir string, want []string)
	}{
		{"safe", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			writeHook(t, dir, "on-success", "exit 0", 0o755)
			return dir, nil
		}},
		{"group-writable directory", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o775)
			return dir, []string{"the hooks directory " + dir + " is writable by users other than its owner (mode 0775)", `"chmod go-w ` + dir + `"`}
		}},
		{"world-writable directory", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o757)
			return dir, []string{"the hooks directory " + dir + " is writable", "(mode 0757)", `"chmod go-w ` + dir + `"`}
		}},
		// The sticky bit stops others renaming the hooks, not adding one.
		{"world-writable sticky directory", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o1777)
			return dir, []string{"the hooks directory " + dir + " is writable", "(mode 1777)", `"chmod go-w ` + dir + `"`}
		}},
		{"group-writable hook", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			hook := writeHook(t, dir, "on-before-cut-over", "exit 0", 0o775)
			return dir, []string{"hook " + hook + " is writable by users other than its owner (mode 0775)", `"chmod go-w ` + hook + `"`}
		}},
		{"world-writable hook", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			writeHook(t, dir, "on-startup", "exit 0", 0o755)
			hook := writeHook(t, dir, "on-status-ping", "exit 0", 0o757)
			return dir, []string{"hook " + hook + " is writable", `"chmod go-w ` + hook + `"`}
		}},
		// Never run, so never refused.
		{"writable files that are not hooks", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			writeHook(t, dir, "README", "", 0o666)
			writeHook(t, dir, "on-success.bak", "", 0o777)
			writeHook(t, dir, "on-failure.disabled", "", 0o777)
			mkdir(t, filepath.Join(dir, "on-success.d"), 0o777)
			return dir, nil
		}},
		// Unrunnable, not unsafe: Run reports it (TestRunRefusesUnrunnableFiles).
		{"broken link", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			symlink(t, filepath.Join(base, "gone"), filepath.Join(dir, "on-success"))
			return dir, nil
		}},
		// Anyone could rename hooks away and put their own directory there.
		{"world-writable parent", func(t *testing.T, base string) (string, []string) {
			shared := mkdir(t, filepath.Join(base, "shared"), 0o777)
			dir := mkdir(t, filepath.Join(shared, "hooks"), 0o755)
			return dir, []string{shared + ", a directory on the way to the hooks directory " + dir + ", is writable by users other than its owner and has no sticky bit (mode 0777)", `"chmod go-w ` + shared + `"`}
		}},
		{"group-writable grandparent", func(t *testing.T, base string) (string, []string) {
			shared := mkdir(t, filepath.Join(base, "shared"), 0o770)
			dir := mkdir(t, filepath.Join(mkdir(t, filepath.Join(shared, "tailor"), 0o755), "hooks"), 0o755)
			return dir, []string{shared + ", a directory on the way to the hooks directory " + dir + ",", "no sticky bit", `"chmod go-w ` + shared + `"`}
		}},
		// Like /tmp: others cannot rename what they do not own.
		{"world-writable sticky parent", func(t *testing.T, base string) (string, []string) {
			shared := mkdir(t, filepath.Join(base, "shared"), 0o1777)
			dir := mkdir(t, filepath.Join(shared, "hooks"), 0o700)
			writeHook(t, dir, "on-success", "exit 0", 0o700)
			return dir, nil
		}},
		// What runs is the link's target: its mode and its directories count.
		{"link to a writable file", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			lib := mkdir(t, filepath.Join(base, "lib"), 0o755)
			target := writeHook(t, lib, "notify", "exit 0", 0o777)
			symlink(t, target, filepath.Join(dir, "on-success"))
			return dir, []string{target + ", which hook " + filepath.Join(dir, "on-success") + " links to, is writable", `"chmod go-w ` + target + `"`}
		}},
		{"link into a world-writable directory", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			lib := mkdir(t, filepath.Join(base, "lib"), 0o777)
			target := writeHook(t, lib, "notify", "exit 0", 0o755)
			symlink(t, target, filepath.Join(dir, "on-success"))
			return dir, []string{lib + ", a directory on the way to hook " + filepath.Join(dir, "on-success") + ",", "no sticky bit", `"chmod go-w ` + lib + `"`}
		}},
		// A relative link with "..", resolved from the link's directory.
		{"relative link through ..", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			lib := mkdir(t, filepath.Join(base, "lib"), 0o777)
			writeHook(t, lib, "notify", "exit 0", 0o755)
			symlink(t, "../lib/notify", filepath.Join(dir, "on-failure"))
			return dir, []string{lib + ", a directory on the way to hook", `"chmod go-w ` + lib + `"`}
		}},
		// A link via a chain of links, each in a different directory: the
		// directory holding the middle link is on neither the given nor
		// the resolved path, and whoever can write there can repoint it.
		{"chain of links through a writable directory", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			lib := mkdir(t, filepath.Join(base, "lib"), 0o755)
			target := writeHook(t, lib, "notify", "exit 0", 0o755)
			middle := mkdir(t, filepath.Join(base, "middle"), 0o777)
			symlink(t, target, filepath.Join(middle, "current"))
			symlink(t, filepath.Join(middle, "current"), filepath.Join(dir, "on-success"))
			return dir, []string{middle + ", a directory on the way to hook", `"chmod go-w ` + middle + `"`}
		}},
		{"safe link into a sticky directory", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			lib := mkdir(t, filepath.Join(base, "lib"), 0o1777)
			target := writeHook(t, lib, "notify", "exit 0", 0o700)
			symlink(t, target, filepath.Join(dir, "on-success"))
			return dir, nil
		}},
		{"hooks directory is a link to a writable one", func(t *testing.T, base string) (string, []string) {
			real := mkdir(t, filepath.Join(base, "real"), 0o777)
			dir := filepath.Join(base, "hooks")
			symlink(t, "real", dir)
			return dir, []string{real + ", which the hooks directory " + dir + " links to, is writable", `"chmod go-w ` + real + `"`}
		}},
		{"link loop", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			symlink(t, "on-status-b", filepath.Join(dir, "on-status-a"))
			symlink(t, "on-status-a", filepath.Join(dir, "on-status-b"))
			return dir, nil // a broken link for os.Stat: Run reports it
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, want := tt.setup(t, privateDir(t))
			r, err := New(Config{Dir: dir})
			if want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if r.Dir() != dir {
					t.Errorf("Dir() = %s, want %s", r.Dir(), dir)
				}
				return
			}
			wantRefused(t, err, want...)
		})
	}
}

// A link to a system executable owned by root, through the system's own
// links (/bin is often a link to usr/bin), is accepted and runs, whoever
// runs the test.
func TestRunLinkToSystemExecutable(t *testing.T) {
	if _, err := os.Stat("/bin/true"); err != nil {
		t.Skip("no /bin/true")
	}
	dir := privateDir(t)
	symlink(t, "/bin/true", filepath.Join(dir, "on-success"))
	r, _ := newRunner(t, dir, 10*time.Second)
	if err := r.Run(context.Background(), OnSuccess, Facts{}); err != nil {
		t.Fatal(err)
	}
}

// A hook or directory made unsafe after New is refused by Run, and nothing
// of the event runs.
func TestRunRefusesWhatBecameUnsafe(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T, dir, hook string) (want string)
	}{
		{"writable hook", func(t *testing.T, dir, hook string) string {
			chmod(t, hook, 0o777)
			return `"chmod go-w ` + hook + `"`
		}},
		{"writable directory", func(t *testing.T, dir, hook string) string {
			chmod(t, dir, 0o1777)
			return `"chmod go-w ` + dir + `"`
		}},
		{"hook replaced by a link to a writable file", func(t *testing.T, dir, hook string) string {
			other := writeHook(t, privateDir(t), "evil", "touch ran", 0o777)
			if err := os.Remove(hook); err != nil {
				t.Fatal(err)
			}
			symlink(t, other, hook)
			return `"chmod go-w ` + other + `"`
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := privateDir(t)
			writeHook(t, dir, "on-before-cut-over-a", "touch ran", 0o755)
			hook := writeHook(t, dir, "on-before-cut-over-b", "touch ran", 0o755)
			r, _ := newRunner(t, dir, 10*time.Second)
			want := tt.change(t, dir, hook)
			err := r.Run(context.Background(), OnBeforeCutOver, Facts{})
			wantRefused(t, err, want)
			if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
				t.Error("a hook ran although the event's set was refused")
			}
		})
	}
}

// Each hook is checked again right before it runs: an earlier hook of the
// same event (or anything while it runs) may have changed it.
func TestRunRechecksEachHookBeforeExecuting(t *testing.T) {
	dir := privateDir(t)
	writeHook(t, dir, "on-success-1", "chmod o+w on-success-2", 0o755)
	hook2 := writeHook(t, dir, "on-success-2", "touch ran-2", 0o755)
	writeHook(t, dir, "on-success-3", "touch ran-3", 0o755)
	r, _ := newRunner(t, dir, 10*time.Second)
	err := r.Run(context.Background(), OnSuccess, Facts{})
	wantRefused(t, err, "hook "+hook2+" is writable", `"chmod go-w `+hook2+`"`)
	if _, err := os.Stat(filepath.Join(dir, "ran-2")); err == nil {
		t.Error("the hook made writable ran")
	}
	// OnSuccess reports: one refused hook does not silence the others.
	if _, err := os.Stat(filepath.Join(dir, "ran-3")); err != nil {
		t.Error("the hook after the refused one did not run")
	}
}

// foreignUID owns what the ownership tests give away: neither root nor
// (since giving files away takes root) the user running the tests.
const foreignUID = 4242

// chown gives path (not a link's target) to foreignUID, or skips the test
// when this user may not (only root may give files away).
func chown(t *testing.T, path string) {
	t.Helper()
	if err := os.Lchown(path, foreignUID, -1); err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("cannot give files to another user: %v", err)
		}
		t.Fatal(err)
	}
}

// Whoever owns a hook, its directory or a directory above can change it,
// whatever the mode says. CI runs the tests as root, where this matters
// most: root must not run a hook another user owns.
func TestNewRefusesHooksOwnedByOthers(t *testing.T) {
	t.Parallel()
	uid := os.Geteuid()
	tests := []struct {
		name  string
		setup func(t *testing.T, base string) (dir string, want []string)
	}{
		{"hook", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			hook := writeHook(t, dir, "on-success", "exit 0", 0o755)
			chown(t, hook)
			return dir, []string{"hook " + hook + " is owned by uid 4242, neither the user running tailor", `"chown ` + strconv.Itoa(uid) + " " + hook + `"`}
		}},
		{"hooks directory", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			chown(t, dir)
			return dir, []string{"the hooks directory " + dir + " is owned by uid 4242", `"chown ` + strconv.Itoa(uid) + " " + dir + `"`}
		}},
		{"parent", func(t *testing.T, base string) (string, []string) {
			parent := mkdir(t, filepath.Join(base, "team"), 0o755)
			dir := mkdir(t, filepath.Join(parent, "hooks"), 0o755)
			chown(t, parent)
			return dir, []string{parent + ", a directory on the way to the hooks directory " + dir + ", is owned by uid 4242"}
		}},
		{"link", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			target := writeHook(t, base, "notify", "exit 0", 0o755)
			link := filepath.Join(dir, "on-success")
			symlink(t, target, link)
			chown(t, link)
			return dir, []string{"hook " + link + " is owned by uid 4242", `"chown -h ` + strconv.Itoa(uid) + " " + link + `"`}
		}},
		{"link target", func(t *testing.T, base string) (string, []string) {
			dir := mkdir(t, filepath.Join(base, "hooks"), 0o755)
			target := writeHook(t, base, "notify", "exit 0", 0o755)
			symlink(t, target, filepath.Join(dir, "on-success"))
			chown(t, target)
			return dir, []string{target + ", which hook " + filepath.Join(dir, "on-success") + " links to, is owned by uid 4242"}
		}},
		// A foreign-owned file in a sticky directory on the way: its owner
		// may rename it, so the link through it is refused.
		{"foreign entry in a sticky directory", func(t *testing.T, base string) (string, []string) {
			shared := mkdir(t, filepath.Join(base, "shared"), 0o1777)
			theirs := mkdir(t, filepath.Join(shared, "theirs"), 0o755)
			dir := mkdir(t, filepath.Join(theirs, "hooks"), 0o755)
			chown(t, theirs)
			return dir, []string{theirs + ", a directory on the way to the hooks directory " + dir + ", is owned by uid 4242"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, want := tt.setup(t, privateDir(t))
			_, err := New(Config{Dir: dir})
			wantRefused(t, err, want...)
		})
	}
}

// A hook given away after New is refused by Run.
func TestRunRefusesHookGivenAway(t *testing.T) {
	dir := privateDir(t)
	hook := writeHook(t, dir, "on-before-cut-over", "touch ran", 0o755)
	r, _ := newRunner(t, dir, 10*time.Second)
	chown(t, hook)
	err := r.Run(context.Background(), OnBeforeCutOver, Facts{})
	wantRefused(t, err, "hook "+hook+" is owned by uid 4242")
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the hook ran")
	}
}

package native

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAlterSQL(t *testing.T) {
	t.Parallel()
	tests := []struct{ db, table, clauses, want string }{
		{"shop", "orders", "ADD COLUMN x int", "ALTER TABLE `shop`.`orders` ADD COLUMN x int\n, ALGORITHM=INSTANT"},
		{"a`b", "my table", "ADD x int -- why", "ALTER TABLE `a``b`.`my table` ADD x int -- why\n, ALGORITHM=INSTANT"},
	}
	for _, tc := range tests {
		if got := alterSQL(tc.db, tc.table, tc.clauses); got != tc.want {
			t.Errorf("alterSQL(%q, %q, %q) = %q, want %q", tc.db, tc.table, tc.clauses, got, tc.want)
		}
	}
}

func TestLockWaitSeconds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		timeout time.Duration
		want    int
	}{
		{time.Millisecond, 1},
		{300 * time.Millisecond, 1},
		{time.Second, 1},
		{1001 * time.Millisecond, 2},
		{2 * time.Second, 2},
		{time.Hour, 3600},
	}
	for _, tc := range tests {
		if got := (Config{LockWaitTimeout: tc.timeout}).lockWaitSeconds(); got != tc.want {
			t.Errorf("lockWaitSeconds(%s) = %d, want %d", tc.timeout, got, tc.want)
		}
	}
	if got := setLockWaitSQL(2); got != "SET SESSION lock_wait_timeout = 2" {
		t.Errorf("setLockWaitSQL(2) = %q", got)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	c := Config{}.withDefaults()
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i, w := range want {
		if got := c.backoff(i + 1); got != w*time.Second {
			t.Errorf("backoff(%d) = %s, want %s", i+1, got, w*time.Second)
		}
	}
	// A huge attempt number must not overflow into a negative pause.
	if got := c.backoff(1000); got != 30*time.Second {
		t.Errorf("backoff(1000) = %s", got)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	ok := Config{Database: "d", Table: "t", Clauses: "ADD x int"}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"no table", func(c *Config) { c.Table = "" }, "the database and the table"},
		{"no clauses", func(c *Config) { c.Clauses = "  " }, "no ALTER clauses"},
		{"negative timeout", func(c *Config) { c.LockWaitTimeout = -time.Second }, "lock wait timeout"},
		{"huge timeout", func(c *Config) { c.LockWaitTimeout = 2 * time.Hour }, "lock wait timeout"},
		{"negative attempts", func(c *Config) { c.Attempts = -1 }, "attempts"},
		{"backoff above max", func(c *Config) { c.Backoff, c.MaxBackoff = time.Minute, time.Second }, "backoff"},
	}
	for _, tc := range tests {
		c := ok
		tc.edit(&c)
		err := c.withDefaults().Validate()
		if (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%s: Validate() = %v, want %q", tc.name, err, tc.wantErr)
		}
	}
	if c := (Config{Backoff: time.Minute}).withDefaults(); c.MaxBackoff != time.Minute {
		t.Errorf("a Backoff above the default maximum gets MaxBackoff %s", c.MaxBackoff)
	}
}

func TestIsLockWait(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"Waiting for table metadata lock":          true,
		"Waiting for schema metadata lock":         true,
		"Waiting for backup lock":                  true,
		"Waiting for global read lock":             true,
		"Waiting for table flush":                  true,
		"altering table":                           false,
		"committing alter table to storage engine": false,
		"Waiting for semi-sync ACK from slave":     false,
		"":                                         false,
	}
	for state, want := range tests {
		if got := isLockWait(state); got != want {
			t.Errorf("isLockWait(%q) = %v, want %v", state, got, want)
		}
	}
}

func TestStripAutoIncrement(t *testing.T) {
	t.Parallel()
	def := "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=17 DEFAULT CHARSET=utf8mb4"
	want := "CREATE TABLE `t` (\n  `id` int(11) NOT NULL AUTO_INCREMENT,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
	if got := stripAutoIncrement(def); got != want {
		t.Errorf("stripAutoIncrement =\n%s\nwant\n%s", got, want)
	}
}

func TestLockErrorMessage(t *testing.T) {
	t.Parallel()
	cause := errors.New("Error 1205")
	err := error(&LockError{Database: "shop", Table: "orders", Attempts: 10, LockWaitTimeout: 2 * time.Second,
		Blockers: []string{"connection 7", "connection 9"}, Err: cause})
	want := "the change to `shop`.`orders` was not made because another session (connection 7; connection 9) held a lock on the table through all 10 attempts of up to 2s each; find and end that session's long transaction or query, or run tailor again later"
	if err.Error() != want {
		t.Errorf("message\n%s\nwant\n%s", err, want)
	}
	if !errors.Is(err, ErrLockNotGranted) || !errors.Is(err, cause) {
		t.Error("the error does not wrap ErrLockNotGranted and the last attempt's error")
	}
}

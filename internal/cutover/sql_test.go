package cutover

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSentryName(t *testing.T) {
	t.Parallel()
	cases := []struct{ table, want string }{
		{"orders", "orders_tailor_sentry"},
		{"my table", "my table_tailor_sentry"},
		{"ä€", "ä€_tailor_sentry"},
		{strings.Repeat("x", 50), strings.Repeat("x", 50) + "_tailor_sentry"},
		{strings.Repeat("x", 60), strings.Repeat("x", 41) + "\uFFFD" + hash8(strings.Repeat("x", 60)) + "_tailor_sentry"},
		{strings.Repeat("x", 64), strings.Repeat("x", 41) + "\uFFFD" + hash8(strings.Repeat("x", 64)) + "_tailor_sentry"},
		{strings.Repeat("x", 41) + strings.Repeat("\uFFFF", 23), strings.Repeat("x", 40) + "\uFFFD" + hash8(strings.Repeat("x", 41)+strings.Repeat("\uFFFF", 23)) + "_tailor_sentry"},
		{strings.Repeat("\uFFFF", 64), ""},
	}
	for _, c := range cases {
		got := SentryName(c.table)
		if got != c.want {
			t.Errorf("SentryName(%q) = %q, want %q", c.table, got, c.want)
			continue
		}
		if got == "" {
			continue
		}
		// What the cut-over relies on: a different name of at most 64
		// characters that sorts after the table's in byte order.
		if n := utf8.RuneCountInString(got); n > maxIdentifier {
			t.Errorf("SentryName(%q) has %d characters", c.table, n)
		}
		if got+"\x00" <= c.table+"\x00" || !SortsAfter(got, c.table) {
			t.Errorf("SentryName(%q) = %q does not sort after the table", c.table, got)
		}
	}
}

func hash8(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

// NameAfter's names differ by suffix and by table, even when long tables
// share their first characters.
func TestNameAfterDistinct(t *testing.T) {
	t.Parallel()
	a, b := strings.Repeat("x", 64), strings.Repeat("x", 63)+"y"
	seen := map[string]string{}
	for _, table := range []string{a, b, "t", "T"} {
		for _, suffix := range []string{"_tailor_new", "_tailor_old", "_tailor_sentry"} {
			name := NameAfter(table, suffix)
			if prev, ok := seen[name]; ok {
				t.Errorf("NameAfter(%q, %q) = %q, as for %s", table, suffix, name, prev)
			}
			seen[name] = table + suffix
			if !SortsAfter(name, table) {
				t.Errorf("NameAfter(%q, %q) = %q does not sort after the table", table, suffix, name)
			}
		}
	}
}

func TestStatements(t *testing.T) {
	t.Parallel()
	cfg := Config{Database: "shop", Table: "my`t", Shadow: "my`t_tailor_new", Old: "my`t_tailor_old"}
	sentry := SentryName(cfg.Table)
	cases := []struct{ got, want string }{
		{createSentrySQL("shop", sentry, SentryComment), "CREATE TABLE `shop`.`my``t_tailor_sentry` (id int) ENGINE=InnoDB COMMENT='tailor cut-over sentry'"},
		{lockSentrySQL(cfg, sentry), "LOCK TABLES `shop`.`my``t` WRITE, `shop`.`my``t_tailor_sentry` WRITE"},
		{lockBothSQL(cfg), "LOCK TABLES `shop`.`my``t` WRITE, `shop`.`my``t_tailor_new` WRITE"},
		{renameThroughSentrySQL(cfg, sentry), "RENAME TABLE `shop`.`my``t` TO `shop`.`my``t_tailor_sentry`, `shop`.`my``t_tailor_new` TO `shop`.`my``t`, `shop`.`my``t_tailor_sentry` TO `shop`.`my``t_tailor_old`"},
		{renameSQL(cfg), "RENAME TABLE `shop`.`my``t` TO `shop`.`my``t_tailor_old`, `shop`.`my``t_tailor_new` TO `shop`.`my``t`"},
		{dropTableSQL("shop", sentry), "DROP TABLE `shop`.`my``t_tailor_sentry`"},
		{setLockWaitSQL(3), "SET SESSION lock_wait_timeout = 3"},
		{killQuerySQL(42), "KILL QUERY 42"},
		{killConnectionSQL(42), "KILL CONNECTION 42"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	valid := Config{Database: "d", Table: "t", Shadow: "t_tailor_new", Old: "t_tailor_old"}
	cases := []struct {
		name   string
		change func(*Config)
		ok     bool
	}{
		{"valid", func(*Config) {}, true},
		{"no database", func(c *Config) { c.Database = "" }, false},
		{"no old name", func(c *Config) { c.Old = "" }, false},
		{"shadow is the table", func(c *Config) { c.Shadow = "t" }, false},
		{"old is the shadow", func(c *Config) { c.Old = "t_tailor_new" }, false},
		// The names a RENAME could wait at instead of the original.
		{"shadow sorts before the table", func(c *Config) { c.Shadow = "_t_new" }, false},
		{"old sorts before the table", func(c *Config) { c.Old = "_t_old" }, false},
		{"shadow sorts before the folded table", func(c *Config) { c.Table, c.Shadow, c.Old = "B", "a_new", "B_old" }, false},
		{"negative timeout", func(c *Config) { c.LockTimeout = -time.Second }, false},
	}
	for _, c := range cases {
		cfg := valid
		c.change(&cfg)
		if err := cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v", c.name, err)
		}
	}
	seconds := []struct {
		timeout time.Duration
		want    int
	}{{0, 3}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {100 * time.Millisecond, 1}, {3 * time.Second, 3}}
	for _, s := range seconds {
		cfg := valid
		cfg.LockTimeout = s.timeout
		if got := cfg.withDefaults().lockWaitSeconds(); got != s.want {
			t.Errorf("lock_wait_timeout for %s = %d, want %d", s.timeout, got, s.want)
		}
	}
}

func TestIsRetryable(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("x"), false},
		{"retryable", retryable(StepLock, errors.New("x")), true},
		{"wrapped retryable", fmt.Errorf("attempt 2: %w", retryable(StepCatchUp, errors.New("x"))), true},
		{"final", final(StepPrepare, ErrOldExists), false},
		{"cancelled", classify(canceled, StepLock, errors.New("x")), false},
		{"lost connection", classify(context.Background(), StepLock, errors.New("invalid connection")), true},
	}
	for _, c := range cases {
		if got := IsRetryable(c.err); got != c.want {
			t.Errorf("%s: IsRetryable(%v) = %v", c.name, c.err, got)
		}
	}
	if err := classify(canceled, StepLock, errors.New("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled attempt's error %v does not wrap context.Canceled", err)
	}
}

package mysql

import (
	"strings"
	"testing"
)

// TestInSQLMode: one statement under another sql_mode, in each flavour's
// form (MariaDB's was run against the server by apply's tests; MySQL's is
// the documented SET_VAR hint, not run).
func TestInSQLMode(t *testing.T) {
	t.Parallel()
	const stmt = "INSERT INTO `d`.`t` (`a`) VALUES (?)"
	mariadb := Server{Flavor: FlavorMariaDB}.InSQLMode("NO_AUTO_VALUE_ON_ZERO", stmt)
	if want := "SET STATEMENT sql_mode = 'NO_AUTO_VALUE_ON_ZERO' FOR " + stmt; mariadb != want {
		t.Errorf("MariaDB: %q, want %q", mariadb, want)
	}
	mysql := Server{Flavor: FlavorMySQL}.InSQLMode("NO_AUTO_VALUE_ON_ZERO", stmt)
	if want := "INSERT /*+ SET_VAR(sql_mode = 'NO_AUTO_VALUE_ON_ZERO') */ INTO `d`.`t` (`a`) VALUES (?)"; mysql != want {
		t.Errorf("MySQL: %q, want %q", mysql, want)
	}
}

// TestLenientSQLMode: the lenient mode is tailor's own without strict
// mode, and nothing else.
func TestLenientSQLMode(t *testing.T) {
	t.Parallel()
	var want []string
	for _, m := range strings.Split(SQLMode, ",") {
		if !strings.HasPrefix(m, "STRICT_") {
			want = append(want, m)
		}
	}
	if got := strings.Join(want, ","); LenientSQLMode != got {
		t.Errorf("LenientSQLMode = %q, want %q", LenientSQLMode, got)
	}
}

package preflight

import (
	"maps"
	"slices"
	"testing"
)

func TestParseGrant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line    string
		ok      bool
		level   grantLevel
		db, tbl string
		privs   []string
		grantee string
	}{
		{line: "GRANT ALL PRIVILEGES ON *.* TO `tailor`@`%` WITH GRANT OPTION", ok: true, level: levelGlobal, privs: []string{"ALL PRIVILEGES"}, grantee: "`tailor`@`%`"},
		{line: "GRANT SUPER, BINLOG MONITOR ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*7B9E'", ok: true, level: levelGlobal, privs: []string{"BINLOG MONITOR", "SUPER"}, grantee: "`u`@`%`"},
		{line: "GRANT USAGE ON *.* TO `r2`", ok: true, level: levelGlobal, privs: []string{}, grantee: "`r2`"},
		{line: "GRANT SELECT, INSERT ON `d1`.* TO `u`@`%`", ok: true, level: levelDatabase, db: "d1", privs: []string{"INSERT", "SELECT"}, grantee: "`u`@`%`"},
		{line: "GRANT SELECT ON `d\\_3`.* TO `u`@`%`", ok: true, level: levelDatabase, db: `d\_3`, privs: []string{"SELECT"}, grantee: "`u`@`%`"},
		{line: "GRANT LOCK TABLES ON `we``ird db`.* TO `r1`", ok: true, level: levelDatabase, db: "we`ird db", privs: []string{"LOCK TABLES"}, grantee: "`r1`"},
		{line: "GRANT ALL ON `d1`.`t` TO 'u'@'localhost'", ok: true, level: levelTable, db: "d1", tbl: "t", privs: []string{"ALL PRIVILEGES"}, grantee: "'u'@'localhost'"},
		// MySQL: column privileges next to table ones, dynamic privileges.
		{line: "GRANT SELECT (`id`, `name`), UPDATE ON `shop`.`orders` TO `app`@`10.%`", ok: true, level: levelTable, db: "shop", tbl: "orders", privs: []string{"UPDATE"}, grantee: "`app`@`10.%`"},
		{line: "GRANT BACKUP_ADMIN,REPLICATION_SLAVE_ADMIN ON *.* TO `u`@`%`", ok: true, level: levelGlobal, privs: []string{"BACKUP_ADMIN", "REPLICATION_SLAVE_ADMIN"}, grantee: "`u`@`%`"},
		{line: "GRANT INSERT ON `d1`.* TO PUBLIC", ok: true, level: levelDatabase, db: "d1", privs: []string{"INSERT"}, grantee: "PUBLIC"},
		// Lines that grant nothing on tables.
		{line: "GRANT `r1` TO `u`@`%`"},
		{line: "GRANT `r1`@`%` TO `u`@`%` WITH ADMIN OPTION"},
		{line: "GRANT EXECUTE ON PROCEDURE `mysql`.`x` TO `u`@`%`"},
		{line: "GRANT PROXY ON ''@'%' TO 'root'@'localhost' WITH GRANT OPTION"},
		{line: "SET DEFAULT ROLE `r1` FOR `u`@`%`"},
		{line: "REVOKE INSERT ON `mysql`.* FROM `u`@`%`"},
	}
	for _, tt := range tests {
		g, ok, err := parseGrant(tt.line)
		if err != nil {
			t.Errorf("parseGrant(%q): %v", tt.line, err)
			continue
		}
		if ok != tt.ok {
			t.Errorf("parseGrant(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		privs := slices.Sorted(maps.Keys(g.privs))
		if g.level != tt.level || g.db != tt.db || g.table != tt.tbl || !slices.Equal(privs, tt.privs) || g.grantee != tt.grantee {
			t.Errorf("parseGrant(%q) = level %d db %q table %q privs %q grantee %q, want %d %q %q %q %q",
				tt.line, g.level, g.db, g.table, privs, g.grantee, tt.level, tt.db, tt.tbl, tt.privs, tt.grantee)
		}
	}
}

func TestGrantSetAllows(t *testing.T) {
	t.Parallel()
	set := func(fold bool, lines ...string) grantSet {
		gs := grantSet{foldCase: fold}
		for _, l := range lines {
			g, ok, err := parseGrant(l)
			if err != nil || !ok {
				t.Fatalf("parseGrant(%q) = %v, %v", l, ok, err)
			}
			gs.grants = append(gs.grants, g)
		}
		return gs
	}
	tests := []struct {
		name      string
		gs        grantSet
		priv      string
		db, table string
		want      bool
	}{
		{"global all", set(false, "GRANT ALL PRIVILEGES ON *.* TO `u`@`%`"), "LOCK TABLES", "shop", "", true},
		{"global other", set(false, "GRANT PROCESS ON *.* TO `u`@`%`"), "SELECT", "shop", "orders", false},
		{"global", set(false, "GRANT PROCESS ON *.* TO `u`@`%`"), "PROCESS", "", "", true},
		{"database all is not global", set(false, "GRANT ALL PRIVILEGES ON `shop`.* TO `u`@`%`"), "PROCESS", "", "", false},
		{"table all is not database", set(false, "GRANT ALL PRIVILEGES ON `shop`.`orders` TO `u`@`%`"), "LOCK TABLES", "shop", "", false},
		{"database", set(false, "GRANT SELECT ON `shop`.* TO `u`@`%`"), "SELECT", "shop", "", true},
		{"other database", set(false, "GRANT SELECT ON `shop`.* TO `u`@`%`"), "SELECT", "shop2", "", false},
		{"database case", set(false, "GRANT SELECT ON `Shop`.* TO `u`@`%`"), "SELECT", "shop", "", false},
		{"database case folded", set(true, "GRANT SELECT ON `Shop`.* TO `u`@`%`"), "SELECT", "shop", "", true},
		{"table covers the table", set(false, "GRANT ALTER ON `shop`.`orders` TO `u`@`%`"), "ALTER", "shop", "orders", true},
		{"table does not cover new tables", set(false, "GRANT ALTER ON `shop`.`orders` TO `u`@`%`"), "ALTER", "shop", "", false},
		{"table all", set(false, "GRANT ALL PRIVILEGES ON `shop`.`orders` TO `u`@`%`"), "DELETE", "shop", "orders", true},
		{"wildcard %", set(false, "GRANT SELECT ON `sh%`.* TO `u`@`%`"), "SELECT", "shop", "", true},
		{"wildcard _", set(false, "GRANT SELECT ON `sh_p`.* TO `u`@`%`"), "SELECT", "shop", "", true},
		{"escaped _ is literal", set(false, "GRANT SELECT ON `sh\\_p`.* TO `u`@`%`"), "SELECT", "shop", "", false},
		{"escaped _ matches _", set(false, "GRANT SELECT ON `s\\_%`.* TO `u`@`%`"), "SELECT", "s_hop", "", true},
		// The server uses the most specific matching database grant of a
		// grantee, not the sum of them.
		{"exact name hides a pattern", set(false, "GRANT SELECT ON `shop`.* TO `u`@`%`", "GRANT INSERT ON `sh%`.* TO `u`@`%`"), "INSERT", "shop", "", false},
		{"longer prefix hides a shorter", set(false, "GRANT SELECT ON `sho%`.* TO `u`@`%`", "GRANT INSERT ON `s%`.* TO `u`@`%`"), "INSERT", "shop", "", false},
		{"pattern when no exact", set(false, "GRANT SELECT ON `other`.* TO `u`@`%`", "GRANT INSERT ON `sh%`.* TO `u`@`%`"), "INSERT", "shop", "", true},
		// A role's grants add to the account's.
		{"role adds", set(false, "GRANT SELECT ON `shop`.* TO `u`@`%`", "GRANT INSERT ON `sh%`.* TO `r1`"), "INSERT", "shop", "", true},
	}
	for _, tt := range tests {
		level := levelTable
		switch {
		case tt.db == "":
			level = levelGlobal
		case tt.table == "":
			level = levelDatabase
		}
		if got := tt.gs.allows(tt.priv, level, tt.db, tt.table); got != tt.want {
			t.Errorf("%s: allows(%s, %s, %q) = %v, want %v", tt.name, tt.priv, tt.db, tt.table, got, tt.want)
		}
	}
}

func TestJudgePrivileges(t *testing.T) {
	t.Parallel()
	gs := grantSet{}
	for _, l := range []string{
		"GRANT REPLICATION SLAVE ON *.* TO `u`@`%`",
		"GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER ON `shop`.* TO `u`@`%`",
	} {
		g, _, _ := parseGrant(l)
		gs.grants = append(gs.grants, g)
	}
	in := Input{Database: "shop", Table: "orders", Copy: true}
	c := judgePrivileges(gs, "u@%", in, privilegeNeeds(in, false))
	want := "the account 'u'@'%' lacks privileges the copy needs (REPLICATION CLIENT on *.*, LOCK TABLES on `shop`.*); grant them with: " +
		"GRANT REPLICATION CLIENT, PROCESS ON *.* TO 'u'@'%'; GRANT LOCK TABLES ON `shop`.* TO 'u'@'%' " +
		"(PROCESS lets tailor see other users' sessions when it looks for long transactions)"
	if c.Status != Fail || c.Message != want {
		t.Errorf("judgePrivileges = %s %q\nwant fail %q", c.Status, c.Message, want)
	}
}

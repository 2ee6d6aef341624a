package mysql

import (
	"slices"
	"strings"
	"testing"
)

func TestReplicationSyntax(t *testing.T) {
	t.Parallel()
	tests := []struct {
		version, comment string
		hosts, status    string
		lag, sqlRunning  string
		monitor          string
		alter            []string
		roles            string
		grants           string
		millis           string
	}{
		{"10.11.19-MariaDB-0+deb12u1", "Debian 12", "SHOW SLAVE HOSTS", "SHOW ALL SLAVES STATUS", "Seconds_Behind_Master", "Slave_SQL_Running",
			"BINLOG MONITOR", []string{"ALTER"}, "SELECT CURRENT_ROLE()", "SHOW GRANTS", "TIME_MS"},
		{"10.4.32-MariaDB", "", "SHOW SLAVE HOSTS", "SHOW ALL SLAVES STATUS", "Seconds_Behind_Master", "Slave_SQL_Running",
			"REPLICATION CLIENT", []string{"ALTER"}, "SELECT CURRENT_ROLE()", "SHOW GRANTS", "TIME_MS"},
		{"8.0.21", "MySQL Community Server - GPL", "SHOW SLAVE HOSTS", "SHOW SLAVE STATUS", "Seconds_Behind_Master", "Slave_SQL_Running",
			"REPLICATION CLIENT", []string{"ALTER", "CREATE", "INSERT"}, "SELECT CURRENT_ROLE()", "SHOW GRANTS FOR CURRENT_USER() USING `r`@`%`", "TIME * 1000"},
		{"8.4.3", "MySQL Community Server - GPL", "SHOW REPLICAS", "SHOW REPLICA STATUS", "Seconds_Behind_Source", "Replica_SQL_Running",
			"REPLICATION CLIENT", []string{"ALTER", "CREATE", "INSERT"}, "SELECT CURRENT_ROLE()", "SHOW GRANTS FOR CURRENT_USER() USING `r`@`%`", "TIME * 1000"},
		{"5.7.44", "MySQL Community Server (GPL)", "SHOW SLAVE HOSTS", "SHOW SLAVE STATUS", "Seconds_Behind_Master", "Slave_SQL_Running",
			"REPLICATION CLIENT", []string{"ALTER", "CREATE", "INSERT"}, "", "SHOW GRANTS", "TIME * 1000"},
	}
	for _, tt := range tests {
		s, err := ParseServer(tt.version, tt.comment)
		if err != nil {
			t.Fatal(err)
		}
		st := s.ReplicaStatus()
		got := []string{s.ReplicaHostsQuery(), st.Query, st.Lag, st.SQLRunning, s.BinlogMonitorPrivilege(), s.CurrentRoleQuery(), s.ShowGrantsQuery("`r`@`%`"), s.ProcesslistMillis()}
		want := []string{tt.hosts, tt.status, tt.lag, tt.sqlRunning, tt.monitor, tt.roles, tt.grants, tt.millis}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", tt.version, got, want)
		}
		// The source's server id follows the renaming of the lag column.
		if wantID := strings.TrimPrefix(tt.lag, "Seconds_Behind_") + "_Server_Id"; st.SourceServerID != wantID {
			t.Errorf("%s: SourceServerID = %q, want %q", tt.version, st.SourceServerID, wantID)
		}
		if !slices.Equal(s.AlterTablePrivileges(), tt.alter) {
			t.Errorf("%s: AlterTablePrivileges = %q, want %q", tt.version, s.AlterTablePrivileges(), tt.alter)
		}
		if g := s.ShowGrantsQuery("NONE"); g != "SHOW GRANTS" {
			t.Errorf("%s: ShowGrantsQuery(NONE) = %q", tt.version, g)
		}
	}
}

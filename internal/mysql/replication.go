package mysql

// The differences between flavours in the statements and columns that tell
// who replicates from a server, how far behind a replica is, and what the
// current account may do. Callers read result columns by these names, never
// by position: the flavours order them differently.

// ReplicaHostsQuery is the statement that lists the replicas registered with
// this server (those that told it their report_host and report_port). MySQL
// 8.0.22 renamed SHOW SLAVE HOSTS to SHOW REPLICAS (8.4 removed the old
// name); MariaDB keeps SHOW SLAVE HOSTS. The result has the columns
// Server_id, Host and Port (MySQL spells the first Server_Id).
func (s Server) ReplicaHostsQuery() string {
	if s.Flavor == FlavorMySQL && s.Version.AtLeast(8, 0, 22) {
		return "SHOW REPLICAS"
	}
	return "SHOW SLAVE HOSTS"
}

// ReplicaStatusSyntax is the statement that reports this server's own
// replication threads, one row per source, and the names of the columns of
// its result that tailor reads.
type ReplicaStatusSyntax struct {
	// Query is the statement; it returns no row on a server that is not a
	// replica.
	Query string
	// Lag is the column with the seconds the applier is behind (NULL when
	// a replication thread is stopped).
	Lag string
	// IORunning and SQLRunning are the columns that say whether the
	// receiver and the applier thread run ("Yes", "No", "Connecting").
	IORunning, SQLRunning string
	// SourceHost and SourcePort are the columns naming the server the
	// replica reads from.
	SourceHost, SourcePort string
	// SourceServerID is the column with the server_id of the source the
	// receiver thread is connected to (0 before it first connected): it
	// names the source whatever host name the replica knows it by.
	SourceServerID string
	// LastIOError and LastSQLError are the columns with the threads' last
	// error messages.
	LastIOError, LastSQLError string
}

// ReplicaStatus is the replica status statement of the server. MariaDB's
// SHOW ALL SLAVES STATUS (10.0+) lists every connection of a multi-source
// replica where SHOW SLAVE STATUS shows only the default one; MySQL 8.0.22
// renamed the statement to SHOW REPLICA STATUS and its columns from
// Master/Slave to Source/Replica, and 8.4 removed the old names.
func (s Server) ReplicaStatus() ReplicaStatusSyntax {
	if s.Flavor == FlavorMySQL && s.Version.AtLeast(8, 0, 22) {
		return ReplicaStatusSyntax{
			Query: "SHOW REPLICA STATUS", Lag: "Seconds_Behind_Source",
			IORunning: "Replica_IO_Running", SQLRunning: "Replica_SQL_Running",
			SourceHost: "Source_Host", SourcePort: "Source_Port", SourceServerID: "Source_Server_Id",
			LastIOError: "Last_IO_Error", LastSQLError: "Last_SQL_Error",
		}
	}
	query := "SHOW SLAVE STATUS"
	if s.Flavor == FlavorMariaDB {
		query = "SHOW ALL SLAVES STATUS"
	}
	return ReplicaStatusSyntax{
		Query: query, Lag: "Seconds_Behind_Master",
		IORunning: "Slave_IO_Running", SQLRunning: "Slave_SQL_Running",
		SourceHost: "Master_Host", SourcePort: "Master_Port", SourceServerID: "Master_Server_Id",
		LastIOError: "Last_IO_Error", LastSQLError: "Last_SQL_Error",
	}
}

// BinlogMonitorPrivilege is the name of the global privilege that lets a
// session run SHOW MASTER STATUS (and SHOW BINARY LOGS). MariaDB 10.5.2
// renamed REPLICATION CLIENT to BINLOG MONITOR and keeps the old name as an
// alias, so a GRANT of either works there, but SHOW GRANTS prints the new
// name.
func (s Server) BinlogMonitorPrivilege() string {
	if s.Flavor == FlavorMariaDB && s.Version.AtLeast(10, 5, 2) {
		return "BINLOG MONITOR"
	}
	return "REPLICATION CLIENT"
}

// AlterTablePrivileges are the privileges on a table that ALTER TABLE needs.
// MySQL documents ALTER, CREATE and INSERT (the statement may rebuild the
// table into a new one); MariaDB asks only for ALTER, unless the ALTER
// renames the table, which tailor does not do natively.
func (s Server) AlterTablePrivileges() []string {
	if s.Flavor == FlavorMariaDB {
		return []string{"ALTER"}
	}
	return []string{"ALTER", "CREATE", "INSERT"}
}

// CurrentRoleQuery is the statement that names the roles enabled in the
// session, or "" when the server has no roles (MySQL before 8.0). MariaDB
// answers one role name or NULL; MySQL 8.0 a comma-separated list of quoted
// `role`@`host` names, or NONE.
func (s Server) CurrentRoleQuery() string {
	if s.Flavor == FlavorMySQL && !s.Version.AtLeast(8, 0, 0) {
		return ""
	}
	return "SELECT CURRENT_ROLE()"
}

// ShowGrantsQuery is the statement that lists the grants in force for the
// current session, given what CurrentRoleQuery answered. MariaDB's SHOW
// GRANTS already adds the grants of the enabled role (and of the roles
// granted to it); MySQL 8.0 lists only the role names unless told with
// USING which roles to expand.
func (s Server) ShowGrantsQuery(currentRoles string) string {
	if s.Flavor == FlavorMySQL && s.Version.AtLeast(8, 0, 0) && currentRoles != "" && currentRoles != "NONE" {
		return "SHOW GRANTS FOR CURRENT_USER() USING " + currentRoles
	}
	return "SHOW GRANTS"
}

// ProcesslistMillis is the expression, over information_schema.PROCESSLIST,
// of how long each session has been in its current state in milliseconds.
// MariaDB has TIME_MS; MySQL has only TIME, in whole seconds.
func (s Server) ProcesslistMillis() string {
	if s.Flavor == FlavorMariaDB {
		return "TIME_MS"
	}
	return "TIME * 1000"
}

package mysql

import (
	"context"
	"database/sql"
)

// ServerCPUs is the number of CPUs the server runs on, or 0 when the server
// does not tell. MariaDB sizes thread_pool_size to the CPU count unless it
// is configured otherwise; MySQL has no such variable.
func ServerCPUs(ctx context.Context, db *sql.DB, s Server) int {
	if s.Flavor != FlavorMariaDB {
		return 0
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT @@thread_pool_size").Scan(&n); err != nil || n < 1 {
		return 0
	}
	return n
}

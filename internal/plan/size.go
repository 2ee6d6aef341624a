package plan

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// Size is how big the table is, and how much disk a copy of it needs.
type Size struct {
	// Rows is the server's estimate (information_schema.TABLES.TABLE_ROWS),
	// which for InnoDB can be off by tens of percent.
	Rows int64 `json:"rows"`
	// Empty is true when the table holds no row at all (read, not
	// estimated).
	Empty bool `json:"empty"`
	// DataBytes and IndexBytes are DATA_LENGTH and INDEX_LENGTH: the space
	// of the clustered index (the rows) and of the secondary indexes.
	DataBytes  int64 `json:"data_bytes"`
	IndexBytes int64 `json:"index_bytes"`
	// Partitions is the number of partitions, 0 for a table that is not
	// partitioned.
	Partitions int `json:"partitions"`
	// CopyBytes is the disk an online copy needs while it runs: the shadow
	// table plus the binary log of the copied rows (CopyBytesBasis says how
	// it is estimated).
	CopyBytes      int64  `json:"copy_bytes"`
	CopyBytesBasis string `json:"copy_bytes_basis"`
}

// readSize reads the table's size from information_schema and whether it
// has any row; the latter is one read of one row, which takes no locks.
func readSize(ctx context.Context, db *sql.DB, database, table string) (Size, error) {
	var s Size
	var options string
	err := db.QueryRowContext(ctx,
		`SELECT COALESCE(TABLE_ROWS, 0), COALESCE(DATA_LENGTH, 0), COALESCE(INDEX_LENGTH, 0), COALESCE(CREATE_OPTIONS, '')
		   FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`,
		database, table).Scan(&s.Rows, &s.DataBytes, &s.IndexBytes, &options)
	if err != nil {
		return s, fmt.Errorf("read the size of %s: %w", mysql.QuoteTable(database, table), err)
	}
	if strings.Contains(strings.ToLower(options), "partitioned") {
		if err := db.QueryRowContext(ctx,
			"SELECT COUNT(*) FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND PARTITION_NAME IS NOT NULL",
			database, table).Scan(&s.Partitions); err != nil {
			return s, fmt.Errorf("count the partitions of %s: %w", mysql.QuoteTable(database, table), err)
		}
	}
	var one int
	err = db.QueryRowContext(ctx, "SELECT 1 FROM "+mysql.QuoteTable(database, table)+" LIMIT 1").Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		s.Empty = true
		s.Rows = 0
	case err != nil:
		return s, fmt.Errorf("look for a row in %s: %w", mysql.QuoteTable(database, table), err)
	}
	s.CopyBytes, s.CopyBytesBasis = copyDisk(s.DataBytes, s.IndexBytes)
	return s, nil
}

// copyDisk estimates the disk a copy needs. The shadow table ends up about
// as large as the original (the new definition rarely changes that by much,
// and a freshly copied table is, if anything, denser). In ROW format the
// binary log records every copied row whole, which is about the size of the
// rows themselves: DATA_LENGTH, without the secondary indexes.
func copyDisk(data, index int64) (int64, string) {
	total := 2*data + index
	return total, fmt.Sprintf("a shadow table about as large as the table's data and indexes (%s) plus about %s of binary log for the copied rows in ROW format; changes made during the copy add to the log, and the old table keeps its space until it is dropped",
		byteSize(data+index), byteSize(data))
}

// byteSize formats a size in binary units: "0 B", "512 B", "1.5 MiB".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	value, exp := float64(n), 0
	for value >= unit && exp < 5 {
		value /= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", value, "KMGTP"[exp-1])
}

// count formats a number with thousands separators: 1234567 → "1,234,567".
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// duration formats seconds for a person: "40 ms", "3.2 s", "12 min", "2 h 5 min".
func duration(seconds float64) string {
	switch {
	case seconds < 1:
		return fmt.Sprintf("%d ms", int64(math.Round(seconds*1000)))
	case seconds < 60:
		return fmt.Sprintf("%.1f s", seconds)
	case seconds < 3600:
		return fmt.Sprintf("%d min", int64(math.Round(seconds/60)))
	}
	minutes := int64(math.Round(seconds / 60))
	return fmt.Sprintf("%d h %d min", minutes/60, minutes%60)
}

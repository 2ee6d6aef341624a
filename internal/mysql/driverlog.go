package mysql

import (
	"fmt"
	"log/slog"
	"strings"

	driver "github.com/go-sql-driver/mysql"
)

// LogDriverTo sends the messages go-sql-driver would otherwise print to the
// process's stderr in its own format ("[mysql] 2026/01/02 15:04:05
// packets.go:58 unexpected EOF") whenever a connection breaks to logger, at
// debug level: the error that matters reaches the caller anyway. The
// driver's logger is process-wide, so a command sets it once, before any
// connection (each connection copies it when it is configured).
func LogDriverTo(logger *slog.Logger) {
	_ = driver.SetLogger(driverLog{logger})
}

type driverLog struct{ logger *slog.Logger }

func (d driverLog) Print(v ...any) {
	d.logger.Debug("mysql driver", "detail", strings.TrimSpace(fmt.Sprint(v...)))
}

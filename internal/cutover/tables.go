package cutover

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// checkTables makes sure, before anything is created or locked, that the
// original and the shadow exist and that no table has the name the
// original is to get, nor the sentry's name when there is one.
func checkTables(ctx context.Context, db *sql.DB, cfg Config, sentry string) error {
	for _, name := range []string{cfg.Table, cfg.Shadow} {
		exists, _, err := tableComment(ctx, db, cfg.Database, name)
		if err != nil {
			return classify(ctx, StepPrepare, err)
		}
		if !exists {
			return final(StepPrepare, fmt.Errorf("%s: %w", mysql.QuoteTable(cfg.Database, name), ErrNotFound))
		}
	}
	taken := map[string]error{cfg.Old: ErrOldExists}
	names := []string{cfg.Old}
	if sentry != "" {
		taken[sentry] = ErrSentryExists
		names = append(names, sentry)
	}
	for _, name := range names {
		exists, comment, err := tableComment(ctx, db, cfg.Database, name)
		if err != nil {
			return classify(ctx, StepPrepare, err)
		}
		if exists {
			return final(StepPrepare, nameTaken(cfg.Database, name, comment, taken[name]))
		}
	}
	return nil
}

// nameTaken is the error for a table in the way of the cut-over.
func nameTaken(database, name, comment string, kind error) error {
	hint := "drop or rename it"
	switch {
	case strings.HasPrefix(comment, SentryComment):
		hint = "it is the empty sentry table of an interrupted cut-over: drop it"
	case errors.Is(kind, ErrOldExists):
		hint = "drop or rename it, or choose another name for the original"
	}
	return fmt.Errorf("%s: %w; %s", mysql.QuoteTable(database, name), kind, hint)
}

// tableComment reports whether database.name is a table, and its comment.
func tableComment(ctx context.Context, db *sql.DB, database, name string) (exists bool, comment string, err error) {
	err = db.QueryRowContext(ctx, tableCommentSQL, database, name).Scan(&comment)
	if errors.Is(err, sql.ErrNoRows) {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("look up table %s: %w", mysql.QuoteTable(database, name), err)
	}
	return true, comment, nil
}

// Server errors no retry can overcome: missing privileges, a missing
// database or table.
const (
	errDBAccessDenied       = 1044
	errTableAccessDenied    = 1142
	errSpecificAccessDenied = 1227
)

// classify makes err an *Error of step. It is retryable unless ctx was
// cancelled (the caller is stopping; the error then wraps ctx.Err()) or the
// server said something a retry cannot change.
func classify(ctx context.Context, step Step, err error) error {
	if ctx.Err() != nil {
		if !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w: %w", context.Cause(ctx), err)
		}
		return final(step, err)
	}
	var last *FinalError
	if errors.Is(err, ErrTriggersChanged) || errors.Is(err, ErrTriggerNotRecreatable) || errors.As(err, &last) {
		return final(step, err)
	}
	switch mysql.ErrorNumber(err) {
	case errDBAccessDenied, mysql.ErrAccessDenied, errTableAccessDenied, errSpecificAccessDenied,
		mysql.ErrNoSuchTable, mysql.ErrBadDB:
		return final(step, err)
	}
	return retryable(step, err)
}

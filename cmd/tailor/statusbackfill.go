package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tailor-osc/tailor/internal/backfill"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
	savedstate "github.com/tailor-osc/tailor/internal/state"
)

// backfillDoc is one saved backfill in tailor status --output json;
// docs/cli.md describes every field.
type backfillDoc struct {
	Job           string `json:"job"`
	State         string `json:"state"`
	SavedStatus   string `json:"saved_status"`
	Crashed       bool   `json:"crashed"`
	LockHolder    int64  `json:"lock_holder"`
	FormatVersion int    `json:"format_version"`
	Readable      bool   `json:"readable"`
	*BackfillRecord
	Next          string `json:"next"`
	ResumeCommand string `json:"resume_command,omitempty"`
}

// BackfillRecord is the part of a saved backfill that only a row of the
// format this tailor reads has.
type BackfillRecord struct {
	Statement    string          `json:"statement"`
	PartsKnown   bool            `json:"parts_known"`
	Set          string          `json:"set"`
	Where        string          `json:"where"`
	Delete       bool            `json:"delete"`
	Key          string          `json:"key"`
	KeyColumns   []string        `json:"key_columns"`
	LastKey      json.RawMessage `json:"last_key"`
	UpperKey     json.RawMessage `json:"upper_key"`
	RowsChanged  int64           `json:"rows_changed"`
	RowsWalked   int64           `json:"rows_walked"`
	Batches      int64           `json:"batches"`
	RunID        string          `json:"run_id"`
	Note         string          `json:"note"`
	StartedAt    time.Time       `json:"started_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	UpdatedAgo   float64         `json:"updated_seconds_ago"`
	FinishedAt   *time.Time      `json:"finished_at"`
	stoppedAfter string          // the last key done, for people
	upTo         string          // the range's last key, for people
}

// readBackfills reads the saved backfills of the table (none when the
// database has no backfill state table).
func (f *statusFlags) readBackfills(ctx context.Context, conn mysql.ConnConfig) ([]backfill.SavedBackfill, error) {
	conn.Database = f.database
	db, err := mysql.Open(ctx, conn)
	if err != nil {
		return nil, migrate.ConnectError(ctx, conn, err)
	}
	defer db.Close()
	return backfill.Saved(ctx, db, f.database, f.table)
}

// backfillDocs describes the saved backfills, with what to do about each.
func (f *statusFlags) backfillDocs(cmd *cobra.Command, saved []backfill.SavedBackfill, now time.Time) []backfillDoc {
	docs := make([]backfillDoc, 0, len(saved)) // [] in the JSON, not null
	for _, b := range saved {
		d := backfillDoc{Job: b.Job, State: b.State, SavedStatus: b.Status, Crashed: b.Crashed, LockHolder: b.LockHolder,
			FormatVersion: b.FormatVersion, Readable: b.Readable}
		if b.Readable {
			r := &BackfillRecord{
				Statement: b.Statement, PartsKnown: b.Exact, Set: b.Set, Where: b.Where, Delete: b.Delete,
				Key: b.KeyName, KeyColumns: nonNil(b.KeyColumns),
				LastKey: encodedKey(b.Last), UpperKey: encodedKey(b.Upper),
				RowsChanged: b.RowsChanged, RowsWalked: b.RowsWalked, Batches: b.Batches, RunID: b.RunID, Note: b.Note,
				StartedAt: b.StartedAt, UpdatedAt: b.UpdatedAt, UpdatedAgo: max(now.Sub(b.UpdatedAt).Seconds(), 0),
				upTo: savedKeyText(b.KeyColumns, b.Upper),
			}
			if b.Last != nil {
				r.stoppedAfter = savedKeyText(b.KeyColumns, b.Last)
			}
			if !b.FinishedAt.IsZero() {
				r.FinishedAt = &b.FinishedAt
			}
			d.BackfillRecord = r
		}
		d.Next, d.ResumeCommand = f.backfillNext(cmd, b)
		docs = append(docs, d)
	}
	return docs
}

func encodedKey(key []any) json.RawMessage {
	s, err := savedstate.EncodeKey(key)
	if err != nil {
		s = "null" // Saved decoded it, so EncodeKey takes it back
	}
	return json.RawMessage(s)
}

// savedKeyText is a key for people, with its columns' names when the
// table still has the key.
func savedKeyText(cols []string, key []any) string {
	if len(cols) == len(key) {
		return keyText(cols, key)
	}
	vals := make([]string, len(key))
	for i, v := range key {
		vals[i] = valueText(v)
	}
	return "(" + strings.Join(vals, ", ") + ")"
}

// backfillNext is what to do about a saved backfill, and for a stopped one
// whose statement is known the command that continues it.
func (f *statusFlags) backfillNext(cmd *cobra.Command, b backfill.SavedBackfill) (next, resume string) {
	switch {
	case b.State == backfill.StateRunning:
		return fmt.Sprintf("it is running: ask it with tailor ctl status on the machine it runs on (with --control-socket PATH if it was started with one); the server shows it as connection %d in SHOW PROCESSLIST", b.LockHolder), ""
	case !b.Readable:
		return fmt.Sprintf("finish it with the tailor that started it, or delete its row (table_name %s, job %s) from %s to forget it",
			mysql.QuoteString(f.table), mysql.QuoteString(b.Job), mysql.QuoteTable(f.database, backfill.StateTable)), ""
	case b.State == backfill.StateDone:
		return "nothing to resume: the backfill finished (the same tailor backfill with --restart instead of --resume runs it again)", ""
	case b.KeyColumns == nil:
		return fmt.Sprintf("it cannot be resumed: the table has no key %s to walk any more; start it over with --restart and another --key", mysql.QuoteIdent(b.KeyName)), ""
	case !b.Exact:
		return fmt.Sprintf("resume it with the --set and --where it was started with: tailor backfill %s--database %s --table %s --set ... --where ... --execute --resume (the saved statement, on one line, does not give them back exactly)",
			strings.Join(append(connectionArgs(cmd), ""), " "), shellQuote(f.database), shellQuote(f.table)), ""
	}
	resume = f.backfillCommand(cmd, b)
	return resume + " continues it (add the stopped run's other flags, such as --chunk-size or --max-lag-millis); --restart instead of --resume starts over", resume
}

// backfillCommand is the tailor backfill --resume command line of a saved
// backfill, with the connection flags status was given (a password never).
func (f *statusFlags) backfillCommand(cmd *cobra.Command, b backfill.SavedBackfill) string {
	parts := append([]string{"tailor", "backfill"}, connectionArgs(cmd)...)
	parts = append(parts, "--database", shellQuote(f.database), "--table", shellQuote(f.table))
	if b.Delete {
		parts = append(parts, "--delete")
	} else {
		parts = append(parts, "--set", shellQuote(b.Set))
	}
	if b.Where != "" {
		parts = append(parts, "--where", shellQuote(b.Where))
	}
	if !b.DefaultKey {
		parts = append(parts, "--key", shellQuote(b.KeyName))
	}
	if f.controlSocket != "" {
		parts = append(parts, "--control-socket", shellQuote(f.controlSocket))
	}
	return strings.Join(append(parts, "--execute", "--resume"), " ")
}

// writeBackfillsText describes the saved backfills, one fact per line, a
// blank line before each.
func writeBackfillsText(w io.Writer, doc statusDoc) {
	line := func(format string, args ...any) {
		fmt.Fprintf(w, format, args...)
		fmt.Fprintln(w)
	}
	for _, b := range doc.Backfills {
		lock := backfill.LockName(b.Job)
		fmt.Fprintln(w)
		line("backfill: %s.%s (job %s)", doc.Database, doc.Table, b.Job)
		switch {
		case b.State == backfill.StateRunning:
			line("state: running elsewhere: server connection %d holds its lock %s; below is its saved state as that run last wrote it", b.LockHolder, lock)
		case b.Crashed:
			line("state: stopped (crashed): its saved state says running, but no session holds its lock %s: the run died without saying", lock)
		case b.State == backfill.StateDone:
			line("state: done")
		default:
			line("state: stopped")
		}
		if r := b.BackfillRecord; r != nil {
			writeBackfillRecordText(line, r)
		} else {
			line("format: %d; this tailor reads another, and cannot tell more", b.FormatVersion)
		}
		line("next: %s", b.Next)
	}
}

func writeBackfillRecordText(line func(string, ...any), r *BackfillRecord) {
	line("statement: %s", r.Statement)
	line("key: %s, walked up to %s", r.Key, r.upTo)
	line("run: %s", r.RunID)
	line("started: %s", r.StartedAt.Format(time.DateTime+" MST"))
	ago := time.Duration(r.UpdatedAgo * float64(time.Second)).Round(time.Second)
	if r.FinishedAt != nil {
		line("finished: %s (%s ago)", r.FinishedAt.Format(time.DateTime+" MST"), ago)
	} else {
		line("last moved: %s (%s ago)", r.UpdatedAt.Format(time.DateTime+" MST"), ago)
	}
	if r.Note != "" {
		line("why: %s", oneLineText(r.Note))
	}
	done := "no batch done yet"
	if r.stoppedAfter != "" {
		done = "every row up to " + r.stoppedAfter + " is done"
	}
	line("progress: %d rows changed, %d rows walked in %d batches; %s", r.RowsChanged, r.RowsWalked, r.Batches, done)
}

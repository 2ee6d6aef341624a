package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/capture"
	"github.com/tailor-osc/tailor/internal/migrate"
	"github.com/tailor-osc/tailor/internal/mysql"
	savedstate "github.com/tailor-osc/tailor/internal/state"
)

// statusDoc is what tailor status --output json prints; docs/cli.md
// describes every field.
type statusDoc struct {
	Database      string `json:"database"`
	Table         string `json:"table"`
	State         string `json:"state"`
	ControlSocket string `json:"control_socket"`
	// Running is the running migration's status json reply, as it sent it.
	Running    json.RawMessage `json:"running,omitempty"`
	LockHolder *int64          `json:"migration_lock_holder,omitempty"`
	Saved      *savedDoc       `json:"saved,omitempty"`
	Next       string          `json:"next,omitempty"`
	// Backfills are the table's saved backfills, when status read the
	// server (none answered on the socket); [] for none.
	Backfills []backfillDoc `json:"backfills,omitzero"`
}

// savedDoc is the saved state of a migration and what a resume would find.
// Record is nil, and its fields left out, for a state of another format.
type savedDoc struct {
	StateTable          string `json:"state_table"`
	FormatVersion       int    `json:"format_version"`
	Readable            bool   `json:"readable"`
	TailorVersion       string `json:"tailor_version"`
	TableExists         bool   `json:"table_exists"`
	ShadowTable         string `json:"shadow_table"`
	ShadowExists        bool   `json:"shadow_exists"`
	OldTableExists      bool   `json:"old_table_exists"`
	Resumable           bool   `json:"resumable"`
	NotResumableBecause string `json:"not_resumable_because"`
	*SavedRecord
}

type SavedRecord struct {
	RunID             string          `json:"run_id"`
	Alter             string          `json:"alter"`
	Phase             string          `json:"phase"`
	StartedAt         time.Time       `json:"started_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
	UpdatedAgo        float64         `json:"updated_seconds_ago"`
	Note              string          `json:"note"`
	RowsCopied        int64           `json:"rows_copied"`
	CopyKeyColumns    []string        `json:"copy_key_columns"`
	LowWatermark      json.RawMessage `json:"low_watermark"`
	CopyDone          bool            `json:"copy_done"`
	ChecksumPassed    bool            `json:"checksum_passed"`
	BinlogFile        string          `json:"binlog_file"`
	BinlogPos         uint32          `json:"binlog_pos"`
	GTIDPosition      string          `json:"gtid_position"`
	BinlogFilePresent *bool           `json:"binlog_file_present"`
	ShadowMatches     bool            `json:"shadow_matches"`
	DeferredIndexes   []string        `json:"deferred_indexes"`
}

func newSavedDoc(s *migrate.SavedMigration, now time.Time) *savedDoc {
	d := &savedDoc{
		StateTable: s.StateTable, TableExists: s.TableExists,
		ShadowTable: s.Shadow, ShadowExists: s.ShadowExists, OldTableExists: s.OldExists,
	}
	switch rec := s.Record; {
	case s.Format != nil:
		d.FormatVersion, d.TailorVersion = s.Format.Found, s.Format.TailorVersion
		d.NotResumableBecause = fmt.Sprintf("it is saved in format %d, and this tailor reads format %d", s.Format.Found, s.Format.Want)
	case rec == nil:
		return nil
	default:
		d.FormatVersion, d.TailorVersion, d.Readable = rec.FormatVersion, rec.TailorVersion, true
		d.ShadowTable = rec.Shadow
		d.Resumable, d.NotResumableBecause = s.NotResumable == "", s.NotResumable
		low, err := savedstate.EncodeKey(rec.LowWatermark)
		if err != nil {
			low = "null" // Load decoded it, so EncodeKey takes it back
		}
		r := &SavedRecord{
			RunID: rec.RunID, Alter: rec.Alter, Phase: rec.Phase,
			StartedAt: rec.StartedAt, UpdatedAt: rec.UpdatedAt, UpdatedAgo: max(now.Sub(rec.UpdatedAt).Seconds(), 0),
			Note: rec.Note, RowsCopied: rec.RowsCopied, CopyKeyColumns: nonNil(rec.KeyColumns),
			LowWatermark: json.RawMessage(low), CopyDone: rec.CopyDone, ChecksumPassed: rec.ChecksumPassed,
			BinlogFile: rec.Position.File, BinlogPos: rec.Position.Pos, GTIDPosition: rec.GTID,
			ShadowMatches: s.ShadowMatches, DeferredIndexes: nonNil(rec.DeferredIndexes),
		}
		if rec.Position.File != "" && s.BinlogUnknown == "" {
			r.BinlogFilePresent = &s.BinlogPresent
		}
		d.SavedRecord = r
	}
	return d
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// writeSavedText describes a migration no tailor answered for, one fact
// per line, as the running status does.
func writeSavedText(w io.Writer, doc statusDoc, s *migrate.SavedMigration) {
	line := func(format string, args ...any) {
		fmt.Fprintf(w, format, args...)
		fmt.Fprintln(w)
	}
	line("migration: %s.%s", doc.Database, doc.Table)
	saved := "the saved state in " + mysql.QuoteIdent(s.StateTable)
	switch {
	case doc.State == stateRunningElsewhere && s.Record == nil && s.Format == nil:
		line("state: running elsewhere: no tailor answers on %s, but server connection %d holds the migration lock; it has saved no state yet", doc.ControlSocket, s.LockHolder)
	case doc.State == stateRunningElsewhere:
		line("state: running elsewhere: no tailor answers on %s, but server connection %d holds the migration lock; below is %s as that run last wrote it", doc.ControlSocket, s.LockHolder, saved)
	case doc.State == stateFinished:
		line("state: finished: no tailor answers on %s and no session holds the migration lock; %s says the migration swapped the tables, and is kept", doc.ControlSocket, saved)
	default:
		line("state: stopped: no tailor answers on %s and no session holds the migration lock; below is %s", doc.ControlSocket, saved)
	}
	if !s.TableExists {
		line("table: %s does not exist", mysql.QuoteTable(s.Database, s.Table))
	}
	if f := s.Format; f != nil {
		line("format: %d, written by tailor %s; this tailor reads format %d only, and cannot tell more", f.Found, f.TailorVersion, f.Want)
	}
	if rec := s.Record; rec != nil {
		writeRecordText(line, doc.Saved.SavedRecord, s)
	}
	if doc.Next != "" {
		line("next: %s", doc.Next)
	}
}

func writeRecordText(line func(string, ...any), d *SavedRecord, s *migrate.SavedMigration) {
	rec := s.Record
	line("alter: %s", oneLineText(rec.Alter))
	line("run: %s, tailor %s (state format %d)", rec.RunID, rec.TailorVersion, rec.FormatVersion)
	line("started: %s", rec.StartedAt.Format(time.DateTime+" MST"))
	ago := time.Duration(d.UpdatedAgo * float64(time.Second)).Round(time.Second)
	switch {
	case s.Finished:
		line("finished: %s (%s ago)", rec.UpdatedAt.Format(time.DateTime+" MST"), ago)
	default:
		line("stopped: in phase %s; last saved %s (%s ago)", rec.Phase, rec.UpdatedAt.Format(time.DateTime+" MST"), ago)
	}
	switch {
	case s.Finished && rec.Note != "":
		line("note: %s", oneLineText(rec.Note))
	case rec.Note != "":
		line("why: %s", oneLineText(rec.Note))
	}
	if s.Finished {
		return // the copy and the shadow are the table by now
	}
	switch {
	case rec.CopyDone:
		line("copied: %d rows over all runs; the copy is done", rec.RowsCopied)
	case rec.LowWatermark == nil:
		line("copied: %d rows over all runs; no chunk is known to be complete (low-watermark none)", rec.RowsCopied)
	default:
		line("copied: %d rows over all runs; every row up to the low-watermark %s is in the shadow", rec.RowsCopied, keyText(rec.KeyColumns, rec.LowWatermark))
	}
	if rec.ChecksumPassed {
		line("checksum: passed")
	} else {
		line("checksum: not passed")
	}
	pos := rec.Position.String()
	if rec.GTID != "" {
		pos += " (GTID " + rec.GTID + ")"
	}
	switch {
	case rec.Position.IsZero():
		line("binlog: no position saved")
	case s.BinlogUnknown != "":
		line("binlog: every change up to %s is in the shadow; whether the file is still on the server is unknown (%s)", pos, s.BinlogUnknown)
	case s.BinlogPresent:
		line("binlog: every change up to %s is in the shadow; the file is still on the server", pos)
	default:
		line("binlog: every change up to %s is in the shadow; the file has been PURGED from the server", pos)
	}
	switch shadow := mysql.QuoteIdent(rec.Shadow); {
	case !s.ShadowExists || rec.Shadow != s.Shadow:
		line("shadow: %s does not exist", shadow)
	case s.ShadowMatches:
		line("shadow: %s exists, as the saved state describes it", shadow)
	default:
		line("shadow: %s exists, but its definition is not the one the saved state recorded", shadow)
	}
}

// keyText shows a key for people: id = 5000, or (a, b) = (1, 'x').
func keyText(cols []string, key []any) string {
	vals := make([]string, len(key))
	for i, v := range key {
		vals[i] = valueText(v)
	}
	if len(cols) == 1 && len(vals) == 1 {
		return cols[0] + " = " + vals[0]
	}
	return "(" + strings.Join(cols, ", ") + ") = (" + strings.Join(vals, ", ") + ")"
}

func valueText(v any) string {
	text := func(b []byte) string {
		if !utf8.Valid(b) {
			return "0x" + hex.EncodeToString(b)
		}
		return "'" + strings.ReplaceAll(string(b), "'", "''") + "'"
	}
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return text([]byte(v))
	case []byte:
		return text(v)
	case capture.Text:
		return text(v)
	case time.Time:
		return "'" + v.Format(time.RFC3339Nano) + "'"
	}
	return fmt.Sprint(v)
}

// oneLineText folds a text written over several lines onto one.
func oneLineText(s string) string { return strings.Join(strings.Fields(s), " ") }

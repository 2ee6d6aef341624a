package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tailor-osc/tailor/internal/schema"
)

// ErrTableChanged is wrapped by the errors Run returns when the captured
// table's definition or the way its changes are logged stops matching what
// the migration was planned for.
var ErrTableChanged = errors.New("captured table changed")

// DDLError reports a DDL statement in the binary log that changed the
// captured table while it was being migrated.
type DDLError struct {
	Database, Table string
	// Statement is the statement as the server logged it.
	Statement string
	// End is the position right after the statement's event, where the
	// binary log goes on past it.
	End Position
}

func (e *DDLError) Error() string {
	return fmt.Sprintf("table %s.%s was changed by DDL during the migration: %s", e.Database, e.Table, e.Statement)
}

// Unwrap makes errors.Is(err, ErrTableChanged) hold.
func (e *DDLError) Unwrap() error { return ErrTableChanged }

// transactions follows the binary log's event groups and collects the
// changes that committed transactions made to the captured table. It knows
// nothing of connections or positions, so it can be driven by events built
// in tests.
//
// An event group starts with a GTID event (MariaDB, MySQL with GTIDs) or a
// BEGIN query (MySQL without GTIDs) and ends with an XID event (InnoDB), a
// COMMIT query (non-transactional engines), or, for an XA transaction, an
// XA_PREPARE event whose changes commit later in a group of their own.
type transactions struct {
	table  *schema.Table
	rows   *rowDecoder
	logger *slog.Logger

	pending    []Change
	savepoints map[string]int      // savepoint name → len(pending) when it was set
	prepared   map[string][]Change // XA transactions prepared but not yet committed, by xidKey
	// preparedAt is where each prepared XA transaction's group started,
	// and lastBoundary the end of the last whole group read (the reader
	// sets it): a resumed read must start at the earliest of them, or the
	// prepared changes, which only this reader holds, would be lost.
	preparedAt   map[string]Position
	lastBoundary Position
	// open is set from the event that starts a group until the one that
	// ends it: between groups the log can be read again from the current
	// position without a change sent twice or lost (see Reader.Run). A
	// group without an end event (a DDL statement's) keeps it set until
	// the next group ends, which only moves that place back.
	open bool
}

func newTransactions(table *schema.Table, logger *slog.Logger) (*transactions, error) {
	rows, err := newRowDecoder(table)
	if err != nil {
		return nil, err
	}
	return &transactions{table: table, rows: rows, logger: logger, prepared: map[string][]Change{}, preparedAt: map[string]Position{}}, nil
}

// begin starts a group.
func (t *transactions) begin() {
	t.pending = nil
	t.savepoints = nil
	t.open = true
}

// commit ends the current group and returns its changes.
func (t *transactions) commit() []Change {
	changes := t.pending
	t.discard()
	return changes
}

// discard ends the current group without its changes: a ROLLBACK, or a
// group cut short by a lost connection, to be read again from its start.
func (t *transactions) discard() {
	t.pending = nil
	t.savepoints = nil
	t.open = false
}

// between reports whether no group has started and not ended: all that
// was read so far is whole groups.
func (t *transactions) between() bool { return !t.open }

// handle takes the next event and returns the changes of a transaction that
// committed with it, if any touched the captured table.
func (t *transactions) handle(ev *replication.BinlogEvent) ([]Change, error) {
	switch e := ev.Event.(type) {
	case *replication.MariadbGTIDEvent, *replication.GTIDEvent:
		t.begin()
	case *replication.XIDEvent:
		return t.commit(), nil
	case *replication.QueryEvent:
		return t.query(string(e.Schema), string(e.Query))
	case *replication.TableMapEvent:
		if t.captured(e) && int(e.ColumnCount) != len(t.table.Columns) {
			return nil, fmt.Errorf("table %s.%s has %d columns in the binary log but %d when the migration started: %w",
				t.table.Database, t.table.Name, e.ColumnCount, len(t.table.Columns), ErrTableChanged)
		}
	case *replication.RowsEvent:
		if e.Table != nil && t.captured(e.Table) {
			return nil, t.rowsEvent(ev.Header.EventType, e)
		}
	case *replication.GenericEvent:
		if ev.Header.EventType == replication.XA_PREPARE_LOG_EVENT {
			return t.xaPrepare(e.Data)
		}
	}
	return nil, nil
}

// captured reports whether a table map names the captured table. Names are
// compared exactly: the server logs them as stored.
func (t *transactions) captured(m *replication.TableMapEvent) bool {
	return string(m.Schema) == t.table.Database && string(m.Table) == t.table.Name
}

func (t *transactions) rowsEvent(typ replication.EventType, e *replication.RowsEvent) error {
	if typ == replication.PARTIAL_UPDATE_ROWS_EVENT {
		return fmt.Errorf("table %s.%s: partial JSON updates in the binary log are not supported (set binlog_row_value_options='')", t.table.Database, t.table.Name)
	}
	if int(e.ColumnCount) != len(t.table.Columns) {
		return fmt.Errorf("table %s.%s has %d columns in the binary log but %d when the migration started: %w",
			t.table.Database, t.table.Name, e.ColumnCount, len(t.table.Columns), ErrTableChanged)
	}
	for _, skipped := range e.SkippedColumns {
		if len(skipped) > 0 {
			return fmt.Errorf("table %s.%s: row image without all columns: binlog_row_image must be FULL: %w",
				t.table.Database, t.table.Name, ErrTableChanged)
		}
	}
	kind := rowsKind(typ)
	if kind == 0 {
		return fmt.Errorf("table %s.%s: unexpected rows event %s", t.table.Database, t.table.Name, typ)
	}
	step := 1
	if kind == Update {
		step = 2 // before and after images alternate
		if len(e.Rows)%2 != 0 {
			return fmt.Errorf("table %s.%s: update rows event with an odd number of images", t.table.Database, t.table.Name)
		}
	}
	for i := 0; i < len(e.Rows); i += step {
		first, err := t.rows.image(e.Rows[i])
		if err != nil {
			return fmt.Errorf("decode %s of %s.%s: %w", kind, t.table.Database, t.table.Name, err)
		}
		c := Change{Kind: kind}
		switch kind {
		case Insert:
			c.After = first
		case Delete:
			c.Before = first
		case Update:
			c.Before = first
			if c.After, err = t.rows.image(e.Rows[i+1]); err != nil {
				return fmt.Errorf("decode %s of %s.%s: %w", kind, t.table.Database, t.table.Name, err)
			}
		}
		t.pending = append(t.pending, c)
	}
	return nil
}

// rowsKind maps a rows event type, in any of its versions, to a Kind; 0 for
// anything else. MariaDB 10.11 logs version 1 events unless asked otherwise.
func rowsKind(typ replication.EventType) Kind {
	switch typ {
	case replication.WRITE_ROWS_EVENTv0, replication.WRITE_ROWS_EVENTv1, replication.WRITE_ROWS_EVENTv2,
		replication.MARIADB_WRITE_ROWS_COMPRESSED_EVENT_V1:
		return Insert
	case replication.UPDATE_ROWS_EVENTv0, replication.UPDATE_ROWS_EVENTv1, replication.UPDATE_ROWS_EVENTv2,
		replication.MARIADB_UPDATE_ROWS_COMPRESSED_EVENT_V1:
		return Update
	case replication.DELETE_ROWS_EVENTv0, replication.DELETE_ROWS_EVENTv1, replication.DELETE_ROWS_EVENTv2,
		replication.MARIADB_DELETE_ROWS_COMPRESSED_EVENT_V1:
		return Delete
	}
	return 0
}

// query handles a query event: transaction control, and statements that
// change the captured table without row events.
func (t *transactions) query(defaultSchema, query string) ([]Change, error) {
	st := analyzeStatement(query)
	switch st.kind {
	case stmtBegin:
		t.begin()
	case stmtCommit, stmtXAOnePhase:
		return t.commit(), nil
	case stmtRollback:
		// Only a transaction that also changed a non-transactional table is
		// logged with ROLLBACK; the captured table's rows in it never happened.
		t.discard()
	case stmtSavepoint:
		if t.savepoints == nil {
			t.savepoints = map[string]int{}
		}
		t.savepoints[strings.ToLower(st.name)] = len(t.pending)
	case stmtRollbackTo:
		if n, ok := t.savepoints[strings.ToLower(st.name)]; ok {
			t.pending = t.pending[:n]
		}
	case stmtXAEnd:
		// The group goes on to an XA_PREPARE event.
	case stmtXACommit:
		changes, ok := t.prepared[st.name]
		delete(t.prepared, st.name)
		delete(t.preparedAt, st.name)
		if !ok {
			// Prepared before the reader's start position: its changes, if it
			// made any to the table, were logged before it too.
			t.logger.Warn("XA transaction prepared before the capture started was committed", "xid", st.name)
		}
		t.discard()
		return changes, nil
	case stmtXARollback:
		delete(t.prepared, st.name)
		delete(t.preparedAt, st.name)
		t.discard()
	case stmtDDL:
		if t.touched(defaultSchema, st.tables) {
			return nil, &DDLError{Database: t.table.Database, Table: t.table.Name, Statement: abbreviate(query)}
		}
	case stmtDML:
		if t.touched(defaultSchema, st.tables) {
			return nil, fmt.Errorf("table %s.%s was changed by a statement logged as SQL instead of rows (binlog_format must be ROW for every session): %s: %w",
				t.table.Database, t.table.Name, abbreviate(query), ErrTableChanged)
		}
	}
	return nil, nil
}

// touched reports whether any of the names refers to the captured table, or
// to its whole database. Unqualified names belong to the statement's default
// schema. Names are compared without regard to case: a server running with
// lower_case_table_names=1 folds them, and a false alarm is the safe mistake.
func (t *transactions) touched(defaultSchema string, names []tableName) bool {
	for _, n := range names {
		db := n.Database
		if db == "" {
			db = defaultSchema
		}
		if n.Table == "" && n.Database != "" && strings.EqualFold(n.Database, t.table.Database) {
			return true
		}
		if strings.EqualFold(db, t.table.Database) && strings.EqualFold(n.Table, t.table.Name) {
			return true
		}
	}
	return false
}

// xaPrepare ends the first half of an XA transaction. Its body is
// one_phase(1) format_id(4) gtrid_length(4) bqual_length(4) data, all
// little-endian (log_event.h, XA_prepare_log_event).
func (t *transactions) xaPrepare(body []byte) ([]Change, error) {
	if len(body) < 13 {
		return nil, fmt.Errorf("XA_PREPARE event of %d bytes is too short", len(body))
	}
	onePhase := body[0] != 0
	formatID := int32(binary.LittleEndian.Uint32(body[1:]))
	gl, bl := binary.LittleEndian.Uint32(body[5:]), binary.LittleEndian.Uint32(body[9:])
	if uint64(13)+uint64(gl)+uint64(bl) > uint64(len(body)) {
		return nil, fmt.Errorf("XA_PREPARE event with an xid longer than the event")
	}
	if onePhase {
		return t.commit(), nil
	}
	key := xidKey(body[13:13+gl], body[13+gl:13+gl+bl], strconv.Itoa(int(formatID)))
	if changes := t.commit(); len(changes) > 0 {
		t.prepared[key] = changes
		t.preparedAt[key] = t.lastBoundary
	}
	return nil, nil
}

// preparedFloor is where the earliest XA transaction that touched the
// table and is prepared but not committed started, if there is one.
func (t *transactions) preparedFloor() (Position, bool) {
	var floor Position
	for _, p := range t.preparedAt {
		if floor.IsZero() || p.Compare(floor) < 0 {
			floor = p
		}
	}
	return floor, !floor.IsZero()
}

func abbreviate(s string) string {
	const limit = 1000
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}

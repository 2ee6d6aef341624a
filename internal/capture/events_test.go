package capture

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tailor-osc/tailor/internal/schema"
)

// Builders for the events go-mysql would decode, so the transaction logic
// can be tested without a server.

func testTable() *schema.Table {
	return &schema.Table{Database: "d", Name: "t", Columns: []schema.Column{
		{Name: "id", Ordinal: 1, DataType: "int"},
		{Name: "v", Ordinal: 2, DataType: "varchar", Charset: "utf8mb4"},
	}}
}

func event(typ replication.EventType, e replication.Event) *replication.BinlogEvent {
	return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: typ, LogPos: 100}, Event: e}
}

func gtid() *replication.BinlogEvent {
	return event(replication.MARIADB_GTID_EVENT, &replication.MariadbGTIDEvent{})
}

func xid() *replication.BinlogEvent { return event(replication.XID_EVENT, &replication.XIDEvent{}) }

func query(schemaName, q string) *replication.BinlogEvent {
	return event(replication.QUERY_EVENT, &replication.QueryEvent{Schema: []byte(schemaName), Query: []byte(q)})
}

func tableMap(db, table string, columns int) *replication.TableMapEvent {
	return &replication.TableMapEvent{Schema: []byte(db), Table: []byte(table), ColumnCount: uint64(columns)}
}

func rowsOf(typ replication.EventType, m *replication.TableMapEvent, rows ...[]any) *replication.BinlogEvent {
	skipped := make([][]int, len(rows))
	return event(typ, &replication.RowsEvent{Table: m, ColumnCount: m.ColumnCount, Rows: rows, SkippedColumns: skipped})
}

func xaPrepare(onePhase bool, gtrid string) *replication.BinlogEvent {
	body := make([]byte, 13, 13+len(gtrid))
	if onePhase {
		body[0] = 1
	}
	binary.LittleEndian.PutUint32(body[1:], 1)
	binary.LittleEndian.PutUint32(body[5:], uint32(len(gtrid)))
	body = append(body, gtrid...)
	return event(replication.XA_PREPARE_LOG_EVENT, &replication.GenericEvent{Data: body})
}

func TestTransactions(t *testing.T) {
	t.Parallel()
	captured := tableMap("d", "t", 2)
	other := tableMap("d", "other", 1)
	ins := func(id int32, v string) []any { return []any{id, v} }
	insert := func(id int32, v string) Change { return Change{Kind: Insert, After: []any{int64(id), Text(v)}} }
	cases := []struct {
		name    string
		events  []*replication.BinlogEvent
		want    [][]Change // the changes returned, one entry per non-empty result
		wantErr string
	}{
		{
			name:   "insert committed by XID",
			events: []*replication.BinlogEvent{gtid(), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, ins(1, "a")), xid()},
			want:   [][]Change{{insert(1, "a")}},
		},
		{
			name: "two statements and another table in one transaction",
			events: []*replication.BinlogEvent{gtid(),
				rowsOf(replication.WRITE_ROWS_EVENTv1, captured, ins(1, "a"), ins(2, "b")),
				rowsOf(replication.WRITE_ROWS_EVENTv2, other, []any{int32(9)}),
				rowsOf(replication.DELETE_ROWS_EVENTv1, captured, ins(1, "a")),
				xid()},
			want: [][]Change{{insert(1, "a"), insert(2, "b"), {Kind: Delete, Before: []any{int64(1), Text("a")}}}},
		},
		{
			name: "update images come in pairs",
			events: []*replication.BinlogEvent{gtid(),
				rowsOf(replication.UPDATE_ROWS_EVENTv1, captured, ins(1, "a"), ins(2, "a"), ins(3, "x"), ins(3, "y")), xid()},
			want: [][]Change{{
				{Kind: Update, Before: []any{int64(1), Text("a")}, After: []any{int64(2), Text("a")}},
				{Kind: Update, Before: []any{int64(3), Text("x")}, After: []any{int64(3), Text("y")}},
			}},
		},
		{
			name:   "only other tables",
			events: []*replication.BinlogEvent{gtid(), rowsOf(replication.WRITE_ROWS_EVENTv1, other, []any{int32(1)}), xid()},
		},
		{
			name:   "same name in another database",
			events: []*replication.BinlogEvent{gtid(), rowsOf(replication.WRITE_ROWS_EVENTv1, tableMap("d2", "t", 2), ins(1, "a")), xid()},
		},
		{
			name:   "rollback discards",
			events: []*replication.BinlogEvent{query("d", "BEGIN"), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, ins(1, "a")), query("d", "ROLLBACK")},
		},
		{
			name:   "non-transactional commit",
			events: []*replication.BinlogEvent{query("d", "BEGIN"), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, ins(1, "a")), query("d", "COMMIT")},
			want:   [][]Change{{insert(1, "a")}},
		},
		{
			name: "rollback to savepoint",
			events: []*replication.BinlogEvent{gtid(),
				rowsOf(replication.WRITE_ROWS_EVENTv1, captured, ins(1, "a")),
				query("d", "SAVEPOINT `s`"),
				rowsOf(replication.WRITE_ROWS_EVENTv1, captured, ins(2, "b")),
				query("d", "ROLLBACK TO `s`"),
				rowsOf(replication.WRITE_ROWS_EVENTv1, captured, ins(3, "c")),
				query("d", "COMMIT")},
			want: [][]Change{{insert(1, "a"), insert(3, "c")}},
		},
		{
			name: "new group discards an unterminated one",
			events: []*replication.BinlogEvent{gtid(), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, ins(1, "a")),
				gtid(), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, ins(2, "b")), xid()},
			want: [][]Change{{insert(2, "b")}},
		},
		{
			name: "XA commits in a later group",
			events: []*replication.BinlogEvent{
				gtid(), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, ins(1, "a")), query("d", "XA END X'7831',X'',1"), xaPrepare(false, "x1"),
				gtid(), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, ins(2, "b")), xid(),
				gtid(), query("d", "XA COMMIT X'7831',X'',1")},
			want: [][]Change{{insert(2, "b")}, {insert(1, "a")}},
		},
		{
			name: "XA rolled back after prepare",
			events: []*replication.BinlogEvent{
				gtid(), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, ins(1, "a")), xaPrepare(false, "x1"),
				gtid(), query("d", "XA ROLLBACK X'7831',X'',1"),
				gtid(), query("d", "XA COMMIT X'7831',X'',1")},
		},
		{
			name:   "XA one phase",
			events: []*replication.BinlogEvent{gtid(), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, ins(1, "a")), xaPrepare(true, "x1")},
			want:   [][]Change{{insert(1, "a")}},
		},
		{
			name:    "DDL on the captured table",
			events:  []*replication.BinlogEvent{gtid(), query("d", "ALTER TABLE t ADD COLUMN x INT")},
			wantErr: "table d.t was changed by DDL during the migration: ALTER TABLE t ADD COLUMN x INT",
		},
		{
			name:    "DDL qualified from another default schema",
			events:  []*replication.BinlogEvent{gtid(), query("other", "RENAME TABLE `d`.`t` TO `d`.`_t_old`")},
			wantErr: "changed by DDL",
		},
		{
			name:    "drop database",
			events:  []*replication.BinlogEvent{gtid(), query("", "DROP DATABASE d")},
			wantErr: "changed by DDL",
		},
		{
			name: "DDL on other tables",
			events: []*replication.BinlogEvent{
				gtid(), query("d", "ALTER TABLE `_t_new` ADD COLUMN t INT"),
				gtid(), query("other", "ALTER TABLE t FORCE"),
				gtid(), query("d", "CREATE TABLE `_t_new` LIKE `t`"),
				gtid(), query("d", "DROP TABLE IF EXISTS `_t_old` /* generated by server */")},
		},
		{
			name:    "statement-logged DML",
			events:  []*replication.BinlogEvent{query("d", "BEGIN"), query("d", "UPDATE t SET v = 'x'")},
			wantErr: "binlog_format must be ROW",
		},
		{
			name:    "table map with another column count",
			events:  []*replication.BinlogEvent{gtid(), event(replication.TABLE_MAP_EVENT, tableMap("d", "t", 3))},
			wantErr: "has 3 columns in the binary log but 2",
		},
		{
			name: "row image not full",
			events: []*replication.BinlogEvent{gtid(), event(replication.WRITE_ROWS_EVENTv1, &replication.RowsEvent{
				Table: captured, ColumnCount: 2, Rows: [][]any{{int32(1), nil}}, SkippedColumns: [][]int{{1}}})},
			wantErr: "binlog_row_image must be FULL",
		},
	}
	for _, c := range cases {
		txs, err := newTransactions(testTable(), slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		var got [][]Change
		var gotErr error
		for _, ev := range c.events {
			changes, err := txs.handle(ev)
			if err != nil {
				gotErr = err
				break
			}
			if len(changes) > 0 {
				got = append(got, changes)
			}
		}
		switch {
		case c.wantErr != "" && (gotErr == nil || !strings.Contains(gotErr.Error(), c.wantErr)):
			t.Errorf("%s: error %v, want one containing %q", c.name, gotErr, c.wantErr)
		case c.wantErr == "" && gotErr != nil:
			t.Errorf("%s: %v", c.name, gotErr)
		case !reflect.DeepEqual(got, c.want):
			t.Errorf("%s: got %#v, want %#v", c.name, got, c.want)
		}
		if gotErr != nil && c.wantErr != "" && !errors.Is(gotErr, ErrTableChanged) {
			t.Errorf("%s: error %v does not wrap ErrTableChanged", c.name, gotErr)
		}
	}
}

func TestAdvance(t *testing.T) {
	t.Parallel()
	at := Position{"binlog.000001", 400}
	withPos := func(typ replication.EventType, logPos uint32, e replication.Event) *replication.BinlogEvent {
		return &replication.BinlogEvent{Header: &replication.EventHeader{EventType: typ, LogPos: logPos}, Event: e}
	}
	cases := []struct {
		name string
		ev   *replication.BinlogEvent
		want Position
	}{
		{"event end", withPos(replication.XID_EVENT, 500, &replication.XIDEvent{}), Position{"binlog.000001", 500}},
		{"artificial event", withPos(replication.FORMAT_DESCRIPTION_EVENT, 0, &replication.FormatDescriptionEvent{}), at},
		{"rotate", withPos(replication.ROTATE_EVENT, 900, &replication.RotateEvent{NextLogName: []byte("binlog.000002"), Position: 4}), Position{"binlog.000002", 4}},
		{"heartbeat", withPos(replication.HEARTBEAT_EVENT, 450, &replication.GenericEvent{Data: []byte("binlog.000001")}), Position{"binlog.000001", 450}},
		{"heartbeat of another file", withPos(replication.HEARTBEAT_EVENT, 450, &replication.GenericEvent{Data: []byte("binlog.000002")}), at},
	}
	for _, c := range cases {
		if got := advance(at, c.ev); got != c.want {
			t.Errorf("%s: advance = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestGroupBoundaries follows where a group starts and ends: the reader
// resumes a lost connection only at a place between groups, so a place
// inside one must never count as between.
func TestGroupBoundaries(t *testing.T) {
	t.Parallel()
	captured := tableMap("d", "t", 2)
	row := []any{int32(1), "a"}
	cases := []struct {
		name   string
		events []*replication.BinlogEvent
		// between[i] is whether the events up to i leave no group open.
		between []bool
	}{
		{
			name:    "transaction ended by XID",
			events:  []*replication.BinlogEvent{gtid(), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, row), xid()},
			between: []bool{false, false, true},
		},
		{
			name:    "BEGIN ... COMMIT",
			events:  []*replication.BinlogEvent{query("d", "BEGIN"), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, row), query("d", "COMMIT")},
			between: []bool{false, false, true},
		},
		{
			name:    "ROLLBACK of a group with a non-transactional table",
			events:  []*replication.BinlogEvent{gtid(), query("d", "BEGIN"), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, row), query("d", "ROLLBACK")},
			between: []bool{false, false, false, true},
		},
		{
			name:    "XA PREPARE, then XA COMMIT in a group of its own",
			events:  []*replication.BinlogEvent{gtid(), query("d", "XA START 'x'"), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, row), query("d", "XA END 'x'"), xaPrepare(false, "x"), gtid(), query("d", "XA COMMIT 'x'")},
			between: []bool{false, false, false, false, true, false, true},
		},
		{
			// A DDL group has no end event: the group stays open until
			// the next one ends, which only makes a resume read more.
			name:    "DDL of another table, then a transaction",
			events:  []*replication.BinlogEvent{gtid(), query("d", "CREATE TABLE other (id INT)"), gtid(), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, row), xid()},
			between: []bool{false, false, false, false, true},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			txs, err := newTransactions(testTable(), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			if !txs.between() {
				t.Fatal("a new follower is inside a group")
			}
			for i, ev := range c.events {
				if _, err := txs.handle(ev); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if got := txs.between(); got != c.between[i] {
					t.Errorf("after event %d (%s): between = %v, want %v", i, ev.Header.EventType, got, c.between[i])
				}
			}
		})
	}
}

// TestDiscardDropsTheOpenGroup cuts a group short, as a lost connection
// does: its changes are dropped, and the group read again from its start
// is returned once.
func TestDiscardDropsTheOpenGroup(t *testing.T) {
	t.Parallel()
	captured := tableMap("d", "t", 2)
	txs, err := newTransactions(testTable(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	group := []*replication.BinlogEvent{gtid(), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, []any{int32(1), "a"}), rowsOf(replication.WRITE_ROWS_EVENTv1, captured, []any{int32(2), "b"}), xid()}
	for _, ev := range group[:2] {
		if _, err := txs.handle(ev); err != nil {
			t.Fatal(err)
		}
	}
	txs.discard()
	var got []Change
	for _, ev := range group {
		changes, err := txs.handle(ev)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, changes...)
	}
	want := []Change{{Kind: Insert, After: []any{int64(1), Text("a")}}, {Kind: Insert, After: []any{int64(2), Text("b")}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes = %#v, want %#v", got, want)
	}
}

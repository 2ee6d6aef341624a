package capture

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// ErrPositionUnavailable means the server can no longer send the binary log
// from the requested position: the file was purged (expire_logs_days,
// PURGE BINARY LOGS) or never existed.
var ErrPositionUnavailable = errors.New("binary log position not available on the server")

// Defaults for the zero values of ReaderConfig.
const (
	DefaultHeartbeatPeriod  = 200 * time.Millisecond
	DefaultReadTimeout      = 10 * time.Second
	DefaultReconnectTimeout = time.Minute
)

// ReaderConfig configures a Reader.
type ReaderConfig struct {
	// Conn is where to connect; the user needs REPLICATION SLAVE (and
	// REPLICATION CLIENT for CurrentPosition).
	Conn mysql.ConnConfig
	// Server is the server's flavour, which selects go-mysql's dialect.
	Server mysql.Server
	// ServerID identifies the reader to the server as a replica and must be
	// unique among its replicas; a random one in [1<<20, 1<<31) when 0.
	ServerID uint32
	// Table is the table to capture; changes to any other table are ignored.
	Table *schema.Table
	// OwnTables are the tables of Table's database that tailor itself
	// writes (the shadow, the heartbeat, the saved state): their rows are
	// not another session's (LastOtherWrite).
	OwnTables []string
	// Logger receives the reader's own messages and go-mysql's warnings.
	Logger *slog.Logger

	// HeartbeatPeriod is how often the server sends a heartbeat when it has
	// nothing else to send, so that Progress advances on an idle server.
	// DefaultHeartbeatPeriod when 0.
	HeartbeatPeriod time.Duration
	// ReadTimeout is how long a read may wait for the server. With
	// heartbeats flowing, a longer silence means a dead connection, which
	// the reader then re-establishes. DefaultReadTimeout when 0; it must be
	// longer than HeartbeatPeriod.
	ReadTimeout time.Duration
	// Retry re-establishes a lost connection (see Run). A zero Timeout is
	// DefaultReconnectTimeout, and a nil Logger is Logger.
	Retry mysql.Retry
}

// Reader follows the binary log as a replica would and turns the committed
// changes to one table into Batches. A Reader runs once.
type Reader struct {
	cfg ReaderConfig

	mu   sync.Mutex
	pos  Position
	sent uint64
	// boundary is the end of the last whole group read, and boundarySent
	// the Batches sent before it.
	boundary     Position
	boundarySent uint64
	// xaFloor is where the earliest prepared, uncommitted XA transaction
	// of the table started (XAFloor).
	xaFloor Position
	// upTo is the time up to which the server's binary log has been read
	// (ReadUpTo).
	upTo time.Time
	// otherWrite is when a row of another session was last read
	// (LastOtherWrite), in Unix nanoseconds; 0 before the first.
	otherWrite atomic.Int64
}

// NewReader returns a Reader for cfg, filling in its defaults.
func NewReader(cfg ReaderConfig) *Reader {
	if cfg.ServerID == 0 {
		cfg.ServerID = 1<<20 + rand.Uint32N(1<<31-1<<20)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HeartbeatPeriod == 0 {
		cfg.HeartbeatPeriod = DefaultHeartbeatPeriod
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.Retry.Timeout == 0 {
		cfg.Retry.Timeout = DefaultReconnectTimeout
	}
	if cfg.Retry.Logger == nil {
		cfg.Retry.Logger = cfg.Logger
	}
	return &Reader{cfg: cfg}
}

// Progress returns the position of the end of the last event read, together
// with the number of Batches sent on out before that position was recorded.
// Once pos has reached a position E, every change committed before E has
// been sent in one of the first sent Batches. The position never moves
// back, not even while events are read again after a lost connection.
func (r *Reader) Progress() (pos Position, sent uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pos, r.sent
}

// Boundary returns the end of the last whole transaction (or other event
// group) read, and the number of Batches sent before it. Once those Batches
// are applied, every change before pos is applied, and pos is a place the
// binary log can be read from again without starting inside a
// transaction: a resumed migration may start there. Unlike the end of the
// last Batch, it moves on while the table sees no writes.
func (r *Reader) Boundary() (pos Position, sent uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.boundary, r.boundarySent
}

// ReadUpTo returns the time up to which the reader has read the server's
// binary log: the moment of the last heartbeat, which the server sends only
// when it has nothing more to send, or the latest event time read since,
// whichever is later. Event timestamps are the server's clock in whole
// seconds: an event stamped T happened before T+1s, which is taken as its
// time (or the moment it was read, if earlier), so that a reader at the
// tip of a busy log shows no lag rather than up to a second of it. They
// are when a statement began, so a long transaction read just now may
// look older than it is. Zero before the first event.
func (r *Reader) ReadUpTo() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.upTo
}

// LastOtherWrite is when the reader last read a row that a session other
// than tailor's wrote: of the captured table, or of any table but
// OwnTables. It is the reader's clock, not the event's: it says the
// application writes now, as far as the reader keeps up. Zero before the
// first such row.
func (r *Reader) LastOtherWrite() time.Time {
	if n := r.otherWrite.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// recordWrite moves LastOtherWrite on when ev holds another session's rows.
// It runs for every event, the copy's rows into the shadow included.
func (r *Reader) recordWrite(ev *replication.BinlogEvent, now time.Time) {
	e, ok := ev.Event.(*replication.RowsEvent)
	if !ok || e.Table == nil || r.own(e.Table.Schema, e.Table.Table) {
		return
	}
	r.otherWrite.Store(now.UnixNano())
}

// own reports whether database.table is one of OwnTables. The names are
// compared as bytes, which allocates nothing.
func (r *Reader) own(database, table []byte) bool {
	return string(database) == r.cfg.Table.Database &&
		slices.ContainsFunc(r.cfg.OwnTables, func(t string) bool { return string(table) == t })
}

// recordTime moves ReadUpTo on for ev, read at now.
func (r *Reader) recordTime(ev *replication.BinlogEvent, now time.Time) {
	t := eventTime(ev)
	switch {
	case ev.Header.EventType == replication.HEARTBEAT_EVENT, ev.Header.EventType == replication.HEARTBEAT_LOG_EVENT_V2:
		t = now
	case t.IsZero():
		return
	default:
		if t = t.Add(time.Second); t.After(now) {
			t = now
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if t.After(r.upTo) {
		r.upTo = t
	}
}

// eventTime is ev's timestamp, or zero for the server's artificial events
// (a heartbeat, the format description at the start of a stream), which
// carry 0.
func eventTime(ev *replication.BinlogEvent) time.Time {
	if ev.Header.Timestamp == 0 {
		return time.Time{}
	}
	return time.Unix(int64(ev.Header.Timestamp), 0)
}

func (r *Reader) recordBoundary(pos Position, txs *transactions) {
	floor, _ := txs.preparedFloor()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.xaFloor = floor
	if r.boundary.IsZero() || pos.Compare(r.boundary) > 0 {
		r.boundary, r.boundarySent = pos, r.sent
	}
}

// XAFloor is where the earliest XA transaction of the table that is
// prepared but not yet committed started, or the zero Position: a resumed
// read must not start after it (its changes arrive with its XA COMMIT).
func (r *Reader) XAFloor() Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.xaFloor
}

func (r *Reader) record(pos Position, batch bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pos.IsZero() || pos.Compare(r.pos) > 0 {
		r.pos = pos
	}
	if batch {
		r.sent++
	}
}

// CurrentPosition asks the server for the position its binary log has
// reached, that is the end of the last transaction written.
func CurrentPosition(ctx context.Context, db *sql.DB, server mysql.Server) (Position, error) {
	query := server.BinlogStatusQuery()
	rows, err := db.QueryContext(ctx, query)
	if err != nil {
		return Position{}, fmt.Errorf("read binary log position (%s): %w", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return Position{}, fmt.Errorf("read binary log position (%s): %w", query, err)
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Position{}, fmt.Errorf("read binary log position (%s): %w", query, err)
		}
		return Position{}, fmt.Errorf("read binary log position: %s returned nothing: binary logging is disabled (start the server with log_bin)", query)
	}
	// File, Position, then columns that differ between flavours and versions.
	var pos Position
	dest := make([]any, len(cols))
	dest[0], dest[1] = &pos.File, &pos.Pos
	for i := 2; i < len(dest); i++ {
		dest[i] = new(sql.RawBytes)
	}
	if err := rows.Scan(dest...); err != nil {
		return Position{}, fmt.Errorf("read binary log position (%s): %w", query, err)
	}
	return pos, rows.Err()
}

// Run streams the binary log from start until ctx is cancelled or an error
// occurs. For every committed transaction that changed the table it sends
// one Batch on out: the transaction's changes in order, End being the
// position after its commit event. On cancellation it returns ctx.Err().
// Otherwise it returns why it stopped: the server stayed unreachable for
// longer than Retry.Timeout (an error wrapping *mysql.UnreachableError),
// the position is gone (ErrPositionUnavailable), a DDL statement changed
// the table (*DDLError), or the table's changes no longer match its
// definition (ErrTableChanged).
//
// # Lost connections
//
// A lost connection (the dump thread killed, the network cut, the server
// restarting) is re-established by Run, from the end of the last whole
// event group it read. A group's changes are sent only when the group ends,
// so every group before that place was sent once and is not read again,
// and the group cut short is dropped and read again from its start: no
// change is lost or sent twice. Run does this itself rather than leave it
// to go-mysql's own retry (DisableRetrySync), which resumes after the last
// event read, in the middle of a group, gives up after a number of
// attempts a second apart rather than after a time, logs each loss as an
// error, and on reconnecting KILLs the connection id it used before: after
// a server restart that id may be another client's session (go-mysql
// v1.13.0, BinlogSyncer.registerSlave). For the same reason a connection
// found lost is closed without that KILL.
func (r *Reader) Run(ctx context.Context, start Position, out chan<- Batch) error {
	cfg := r.cfg
	if cfg.Table == nil {
		return errors.New("binary log reader: no table to capture")
	}
	if start.IsZero() {
		return errors.New("binary log reader: no start position")
	}
	if cfg.ReadTimeout <= cfg.HeartbeatPeriod {
		return fmt.Errorf("binary log reader: read timeout %s must be longer than the heartbeat period %s", cfg.ReadTimeout, cfg.HeartbeatPeriod)
	}
	txs, err := newTransactions(cfg.Table, cfg.Logger)
	if err != nil {
		return fmt.Errorf("binary log reader: %w", err)
	}
	// go-mysql does not fall back to the clear when it is given a TLS
	// configuration and the server has no TLS, so --ssl-mode PREFERRED is
	// settled here, once, with a connection of its own.
	r.cfg.Conn, err = mysql.ResolvePreferred(ctx, cfg.Conn)
	if err != nil {
		return fmt.Errorf("binary log reader: %w", err)
	}
	logger := cfg.Logger.With("table", cfg.Table.Database+"."+cfg.Table.Name)
	r.record(start, false)
	logger.Info("reading binary log", "pos", start, "server_id", cfg.ServerID)

	// resume is the end of the last whole group read.
	resume := start
	txs.lastBoundary = start
	var outage mysql.Outage
	for {
		err := r.follow(ctx, logger, txs, &resume, &outage, out)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !connectionLost(err) {
			return err
		}
		txs.discard()
		if werr := cfg.Retry.Wait(ctx, &outage, "binlog", err, "pos", resume.String()); werr != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("read binary log from %s: %w", resume, werr)
		}
	}
}

// follow reads the binary log from *resume over one connection until it
// fails or ctx ends, moving *resume to the end of each whole group read.
// The first event the connection delivers ends outage.
func (r *Reader) follow(ctx context.Context, logger *slog.Logger, txs *transactions, resume *Position, outage *mysql.Outage, out chan<- Batch) (err error) {
	dial := &dialer{}
	sc, err := r.syncerConfig(dial)
	if err != nil {
		return fmt.Errorf("binary log connection to %s: %w", r.cfg.Conn, err)
	}
	syncer := replication.NewBinlogSyncer(sc)
	// Close kills the dump connection from a second connection and waits
	// for go-mysql's reading goroutine, so nothing outlives follow; when
	// the connection was lost the KILL is left out (see Run).
	defer func() {
		if connectionLost(err) {
			dial.off.Store(true)
		}
		syncer.Close()
	}()
	stream, err := syncer.StartSync(gomysql.Position{Name: resume.File, Pos: resume.Pos})
	if err != nil {
		return fmt.Errorf("start reading the binary log of %s at %s: %w", r.cfg.Conn, *resume, err)
	}
	pos := *resume
	for {
		ev, err := stream.GetEvent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return r.streamError(pos, err)
		}
		if outage.Retries() > 0 {
			logger.Info("binary log connection re-established", "pos", pos.String(), "retries", outage.Retries())
		}
		outage.Reset()
		next := advance(pos, ev)
		changes, err := txs.handle(ev)
		var ddl *DDLError
		if errors.As(err, &ddl) {
			ddl.End = next
		}
		if err != nil {
			return fmt.Errorf("binary log at %s: %w", pos, err)
		}
		if len(changes) > 0 {
			select {
			case out <- Batch{Changes: changes, End: next, Time: eventTime(ev)}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		// Recorded only after the batch is out: whoever sees the new
		// position also sees the batch counted.
		r.record(next, len(changes) > 0)
		now := time.Now()
		r.recordTime(ev, now)
		r.recordWrite(ev, now)
		pos = next
		if txs.between() {
			*resume = pos
			txs.lastBoundary = pos
			// Not past a prepared XA transaction: its changes come with
			// its XA COMMIT, and a read resumed after its start would
			// never see them.
			b := pos
			if floor, ok := txs.preparedFloor(); ok {
				b = floor
			}
			r.recordBoundary(b, txs)
		}
	}
}

// dialer dials for go-mysql until it is turned off.
type dialer struct{ off atomic.Bool }

func (d *dialer) dial(ctx context.Context, network, address string) (net.Conn, error) {
	if d.off.Load() {
		return nil, errors.New("binary log connection closed after a lost connection; not dialing again")
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, address)
}

// connectionLost reports whether err, from go-mysql or the server, means
// the connection was lost or could not be made.
func connectionLost(err error) bool {
	var myErr *gomysql.MyError
	if errors.As(err, &myErr) {
		return mysql.IsConnectionLostNumber(myErr.Code)
	}
	return errors.Is(err, gomysql.ErrBadConn) || mysql.IsConnectionLost(err)
}

// advance returns the position after ev. A rotate event names the next file
// and where in it the stream continues (the server sends one at the start
// of the stream too). Every other event carries in its header the position
// where it ends, except the server's artificial ones (the format description
// at the start of a stream, for example), which carry 0. A heartbeat carries
// the position the server has sent up to, in the file its body names.
func advance(pos Position, ev *replication.BinlogEvent) Position {
	if rot, ok := ev.Event.(*replication.RotateEvent); ok {
		return Position{File: string(rot.NextLogName), Pos: uint32(rot.Position)}
	}
	if ev.Header.LogPos == 0 {
		return pos
	}
	if ev.Header.EventType == replication.HEARTBEAT_EVENT {
		if g, ok := ev.Event.(*replication.GenericEvent); !ok || string(g.Data) != pos.File {
			return pos
		}
	}
	if ev.Header.EventType == replication.HEARTBEAT_LOG_EVENT_V2 {
		return pos // MySQL 8's heartbeat keeps its position in the body.
	}
	return Position{File: pos.File, Pos: ev.Header.LogPos}
}

func (r *Reader) streamError(pos Position, err error) error {
	var myErr *gomysql.MyError
	if errors.As(err, &myErr) && myErr.Code == gomysql.ER_MASTER_FATAL_ERROR_READING_BINLOG {
		return fmt.Errorf("read binary log from %s: %w: %s", pos, ErrPositionUnavailable, myErr.Message)
	}
	return fmt.Errorf("read binary log after %s: %w", pos, err)
}

func (r *Reader) syncerConfig(dial *dialer) (replication.BinlogSyncerConfig, error) {
	c := r.cfg.Conn
	tlsConfig, err := c.TLSConfig()
	if err != nil {
		return replication.BinlogSyncerConfig{}, err
	}
	sc := replication.BinlogSyncerConfig{
		ServerID: r.cfg.ServerID,
		Flavor:   r.cfg.Server.BinlogFlavor(),
		User:     c.User,
		Password: c.Password,
		// Values as text that the server reads back exactly: DECIMAL digits
		// rather than a float or decimal.Decimal, temporal values as the
		// server prints them, TIMESTAMP in UTC to match the applier's
		// time_zone '+00:00'.
		ParseTime:               false,
		UseDecimal:              false,
		TimestampStringLocation: time.UTC,
		HeartbeatPeriod:         r.cfg.HeartbeatPeriod,
		ReadTimeout:             r.cfg.ReadTimeout,
		DisableRetrySync:        true, // Run reconnects itself
		Dialer:                  dial.dial,
		// go-mysql logs every step at Info, and a lost connection as an
		// error; every failure it meets reaches Run as an error, which
		// tailor reports or retries with a warning of its own, so its lines
		// are debug detail.
		Logger: slog.New(debugHandler{Handler: r.cfg.Logger.Handler()}).With("component", "go-mysql"),
		// The SQL sessions' encryption, resolved by Run for PREFERRED.
		TLSConfig: tlsConfig,
		// Only the captured table's rows are decoded: the log also holds
		// every row the copy writes into the shadow, as many as the table
		// has, and decoding them cost the copy a core's share of time.
		RowsEventDecodeFunc: func(e *replication.RowsEvent, data []byte) error {
			pos, err := e.DecodeHeader(data)
			if err != nil || e.Table == nil || string(e.Table.Schema) != r.cfg.Table.Database || string(e.Table.Table) != r.cfg.Table.Name {
				return err
			}
			return e.DecodeData(pos, data)
		},
	}
	if c.Socket != "" {
		sc.Host = c.Socket // go-mysql dials a unix socket when the address holds a '/'
	} else {
		sc.Host, sc.Port = c.Host, uint16(c.Port)
	}
	return sc, nil
}

// debugHandler passes every record on at Debug level.
type debugHandler struct{ slog.Handler }

func (h debugHandler) Enabled(ctx context.Context, _ slog.Level) bool {
	return h.Handler.Enabled(ctx, slog.LevelDebug)
}

func (h debugHandler) Handle(ctx context.Context, rec slog.Record) error {
	rec.Level = slog.LevelDebug
	return h.Handler.Handle(ctx, rec)
}

func (h debugHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return debugHandler{Handler: h.Handler.WithAttrs(attrs)}
}

func (h debugHandler) WithGroup(name string) slog.Handler {
	return debugHandler{Handler: h.Handler.WithGroup(name)}
}

package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
)

// OwnSessions is the set of server-side connection ids a pool opened with
// OpenRecording has had. An id stays in the set after its connection
// closed: the server hands out connection ids in increasing order and does
// not reuse one while the server runs (until the counter wraps around, at
// 2^32 on MariaDB), so a stale id matches nobody else. The zero value is
// empty and ready to use; it is safe for concurrent use.
type OwnSessions struct {
	mu  sync.Mutex
	ids map[int64]bool
}

// Contains reports whether id is one of the pool's connections.
func (o *OwnSessions) Contains(id int64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.ids[id]
}

func (o *OwnSessions) add(id int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ids == nil {
		o.ids = map[int64]bool{}
	}
	o.ids[id] = true
}

// recordingConnector asks every new connection for its id before the pool
// gets it, so that no statement of the pool can run on a connection the
// set does not know.
type recordingConnector struct {
	driver.Connector
	own *OwnSessions
}

func (c recordingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	id, err := connectionID(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("read the new connection's id: %w", err)
	}
	c.own.add(id)
	return conn, nil
}

// connectionID runs SELECT CONNECTION_ID() on a driver connection. The
// driver returns the BIGINT UNSIGNED as a uint64 (go-sql-driver 1.8 and
// later) or as its text.
func connectionID(ctx context.Context, conn driver.Conn) (int64, error) {
	q, ok := conn.(driver.QueryerContext)
	if !ok {
		return 0, fmt.Errorf("the driver's connection (%T) cannot run a query", conn)
	}
	rows, err := q.QueryContext(ctx, "SELECT CONNECTION_ID()", nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	vals := make([]driver.Value, 1)
	if err := rows.Next(vals); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, errors.New("no row")
		}
		return 0, err
	}
	switch v := vals[0].(type) {
	case int64:
		return v, nil
	case uint64:
		return int64(v), nil
	case []byte:
		return strconv.ParseInt(string(v), 10, 64)
	case string:
		return strconv.ParseInt(v, 10, 64)
	}
	return 0, fmt.Errorf("unexpected value %v (%T)", vals[0], vals[0])
}

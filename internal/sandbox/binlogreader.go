package sandbox

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	gomysql "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// BinlogReader is a binary log reader that is not a replica, such as a
// change-data-capture tool (Debezium, Maxwell) or a second tailor: it
// registers with the server as a replica, with an address of its choosing,
// and reads the binary log from its current end.
type BinlogReader struct {
	syncer *replication.BinlogSyncer
	s      *Sandbox
	id     uint32
}

// StartBinlogReader connects a binary log reader to the sandbox that
// registers with server id serverID and the address reportHost and the
// sandbox's port, as go-mysql's syncer does (it registers with the port it
// connects to). It returns once the server lists the registration.
func (s *Sandbox) StartBinlogReader(ctx context.Context, reportHost string, serverID uint32) (*BinlogReader, error) {
	db, err := s.Open(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("start binlog reader: %w", err)
	}
	defer db.Close()
	server, err := mysql.DetectServer(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("start binlog reader: %w", err)
	}
	rows, err := mysql.ShowRows(ctx, db, server.BinlogStatusQuery())
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("start binlog reader: read the binary log position: %v", err)
	}
	pos, _ := strconv.ParseUint(rows[0]["position"], 10, 32)
	c := s.Conn("")
	syncer := replication.NewBinlogSyncer(replication.BinlogSyncerConfig{
		ServerID:  serverID,
		Flavor:    server.BinlogFlavor(),
		Host:      c.Host,
		Port:      uint16(c.Port),
		User:      c.User,
		Password:  c.Password,
		Localhost: reportHost,
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	// StartSync registers before it returns, and reads on in the
	// background until Close.
	if _, err := syncer.StartSync(gomysql.Position{Name: rows[0]["file"], Pos: uint32(pos)}); err != nil {
		syncer.Close()
		return nil, fmt.Errorf("start binlog reader: %w", err)
	}
	r := &BinlogReader{syncer: syncer, s: s, id: serverID}
	if err := r.waitListed(ctx, db, true); err != nil {
		syncer.Close()
		return nil, err
	}
	return r, nil
}

// Stop disconnects the reader and waits until the server no longer lists
// its registration (the server drops it when the dump thread ends), so that
// what runs next does not see it.
func (r *BinlogReader) Stop() error {
	r.syncer.Close()
	ctx, cancel := context.WithTimeout(context.Background(), replicaStartTimeout)
	defer cancel()
	db, err := r.s.Open(ctx, "")
	if err != nil {
		return fmt.Errorf("stop binlog reader: %w", err)
	}
	defer db.Close()
	return r.waitListed(ctx, db, false)
}

// waitListed waits until the server's list of registered replicas holds
// the reader's server id, or no longer does.
func (r *BinlogReader) waitListed(ctx context.Context, db *sql.DB, listed bool) error {
	ctx, cancel := context.WithTimeout(ctx, replicaStartTimeout)
	defer cancel()
	for {
		ids, err := replicaIDs(ctx, db)
		if err != nil {
			return err
		}
		if ids[int(r.id)] == listed {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("binlog reader with server id %d: listed %v, want %v: %w", r.id, !listed, listed, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

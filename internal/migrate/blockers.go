package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/preflight"
)

// blockerList are the sessions holding the cut-over up, each once, longest
// held first, and what tailor could not see of them.
type blockerList struct {
	sessions []preflight.Session
	// note says what the server did not show (preflight.BlockerReport's
	// Note); "" when it showed everything.
	note string
}

// add appends sessions, merging one seen on both tables into one entry.
func (b *blockerList) add(sessions []preflight.Session) {
	for _, s := range sessions {
		merged := false
		for i := range b.sessions {
			if b.sessions[i].ID == s.ID {
				if s.Lock != "" && !strings.Contains(b.sessions[i].Lock, s.Lock) {
					b.sessions[i].Lock = strings.TrimPrefix(b.sessions[i].Lock+", "+s.Lock, ", ")
				}
				b.sessions[i].Waiting = b.sessions[i].Waiting || s.Waiting
				merged = true
				break
			}
		}
		if !merged {
			b.sessions = append(b.sessions, s)
		}
	}
}

func (b blockerList) String() string {
	names := make([]string, len(b.sessions))
	for i, s := range b.sessions {
		names[i] = s.String()
	}
	return strings.Join(names, "; ")
}

// sessionAttrs are the log attributes that describe a session.
func sessionAttrs(s preflight.Session) []any {
	return []any{
		"session_id", s.ID,
		"user", s.User,
		"host", s.Host,
		"age_s", int64(s.Age.Seconds()),
		"transaction_s", int64(s.Transaction.Seconds()),
		"state", s.State,
		"lock", s.Lock,
		"query", s.Query,
	}
}

// nameBlockers says, in the log at Warn and in the status, which sessions
// hold the cut-over up, as b found them before or after attempt.
func (r *Runner) nameBlockers(attempt int, w *cutOverWait, b blockerList) {
	r.heldUp.set(w.since, b.sessions)
	for _, s := range b.sessions {
		attrs := append([]any{"phase", PhaseCutOver.String(), "attempt", attempt}, sessionAttrs(s)...)
		r.log.Warn("session holds up the cut-over", attrs...)
	}
	if len(b.sessions) == 0 && b.note != "" && !w.noteLogged {
		w.noteLogged = true
		r.log.Warn("the sessions that hold the table cannot be seen", "phase", PhaseCutOver.String(), "note", b.note)
	}
}

// killWait bounds how long a forced cut-over waits for the sessions it
// killed to be gone: a killed transaction is rolled back first, and keeps
// its locks until then, which for a transaction that changed many rows
// takes a while. The attempt goes ahead after it regardless; its lock
// timeout still bounds the writers' wait.
const killWait = 5 * time.Second

// killBlockers is --force-cut-over-after, as Vitess' option of that name
// and Spirit's force-kill do it: once the cut-over has been held up for
// ForceCutOverAfter, the sessions holding it up are ended with KILL
// CONNECTION, so that their metadata locks go, and the attempt follows at
// once. A killed session's transaction is rolled back, and its client gets
// an error (a lost connection, 2013, on its next statement). Never killed:
// tailor's own sessions (every connection of its pool is recorded as it is
// opened, see mysql.OwnSessions), the server's own threads and replication
// threads (which never hold a table's metadata lock for long anyway), and a
// session tailor cannot see in the processlist, since whose it is is then
// unknown.
//
// It returns how many of the sessions were killed (now or before); with
// none, the attempt is not worth making.
func (r *Runner) killBlockers(ctx context.Context, w *cutOverWait, b blockerList) int {
	var gone []int64
	for _, s := range b.sessions {
		if w.killed[s.ID] {
			gone = append(gone, s.ID) // killed before, still rolling back
			continue
		}
		if why := r.spared(s); why != "" {
			attrs := append([]any{"phase", PhaseCutOver.String(), "reason", why}, sessionAttrs(s)...)
			r.log.Warn("not killing a session that holds up the cut-over", attrs...)
			continue
		}
		if err := mysql.Kill(ctx, r.db, s.ID, true); err != nil {
			attrs := append([]any{"phase", PhaseCutOver.String(), "err", err}, sessionAttrs(s)...)
			r.log.Warn("could not kill a session that holds up the cut-over", attrs...)
			continue
		}
		w.killed[s.ID] = true
		gone = append(gone, s.ID)
		attrs := append([]any{"phase", PhaseCutOver.String(), "held_up_for", time.Since(w.since).Round(time.Second).String(), "force_cut_over_after", r.cfg.ForceCutOverAfter.String()}, sessionAttrs(s)...)
		r.log.Warn("killed a session that held up the cut-over; its transaction is rolled back", attrs...)
	}
	if err := waitSessionsGone(ctx, r.db, gone, killWait); err != nil {
		r.log.Warn("killed sessions are still there; attempting the cut-over all the same", "phase", PhaseCutOver.String(), "err", err)
	}
	return len(gone)
}

// spared says why s must not be killed, or "" when it may be.
func (r *Runner) spared(s preflight.Session) string {
	switch {
	case r.own.Contains(s.ID):
		return "it is one of tailor's own sessions"
	case s.User == "":
		return "tailor cannot see whose session it is (the account lacks the PROCESS privilege)"
	case s.User == "system user" || s.User == "event_scheduler":
		return "it is a thread of the server"
	case isReplicationCommand(s.Command):
		return "it is a replication thread"
	}
	return ""
}

// isReplicationCommand reports whether a processlist COMMAND is that of a
// replication thread: a replica's dump thread on this server ("Binlog
// Dump", "Binlog Dump GTID"), this server's own replica threads
// (MariaDB's "Slave_IO", "Slave_SQL", "Slave_worker"; MySQL 8.0.26 and
// later say "Replica"), or a replica registering. "Connect" is MySQL's
// replica I/O thread, and a client still logging in, which holds no lock.
func isReplicationCommand(command string) bool {
	for _, prefix := range []string{"Binlog Dump", "Slave", "Replica", "Register", "Connect", "Daemon"} {
		if strings.HasPrefix(command, prefix) {
			return true
		}
	}
	return false
}

// waitSessionsGone waits until none of the connections ids is in the
// processlist, for at most limit.
func waitSessionsGone(ctx context.Context, db *sql.DB, ids []int64, limit time.Duration) error {
	if len(ids) == 0 {
		return nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	deadline := time.Now().Add(limit)
	for {
		var left int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID IN ("+marks+")", args...).Scan(&left); err != nil {
			return fmt.Errorf("look for the killed sessions: %w", err)
		}
		if left == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d killed sessions still there after %s (rolling back?)", left, len(ids), limit)
		}
		if err := mysql.Backoff(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// cutOverHold is what the status shows of a cut-over held up: since when,
// and by which sessions as last seen. It is written by the cut-over and
// read by the control server's goroutines.
type cutOverHold struct {
	mu       sync.Mutex
	since    time.Time
	sessions []preflight.Session
}

func (h *cutOverHold) set(since time.Time, sessions []preflight.Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.since, h.sessions = since, sessions
}

func (h *cutOverHold) clear() { h.set(time.Time{}, nil) }

// snapshot is since when the cut-over has been held up (zero when it is
// not) and the sessions seen holding it up.
func (h *cutOverHold) snapshot() (time.Time, []preflight.Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.since, h.sessions
}

// cutOverGate lets the operator's abort stop a cut-over between attempts,
// never during one. An attempt interrupted half-way gives up cleanly too
// (package cutover), but the operator asked that the tables not be
// swapped, and an attempt under way may be a moment from having swapped
// them: it is left to finish, and the abort takes effect after it unless it
// swapped.
type cutOverGate struct {
	mu                            sync.Mutex
	inAttempt, swapped, abortSent bool
}

// begin is called before an attempt: false means the operator aborted,
// and the attempt must not start.
func (g *cutOverGate) begin() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.abortSent {
		return false
	}
	g.inAttempt = true
	return true
}

// end is called after an attempt, saying whether it swapped the tables.
func (g *cutOverGate) end(swapped bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.inAttempt, g.swapped = false, swapped
}

// aborted reports whether the operator asked for an abort.
func (g *cutOverGate) aborted() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.abortSent
}

// ask records the operator's abort unless the tables were swapped
// already, and says whether an attempt is under way and whether they were.
func (g *cutOverGate) ask() (inAttempt, swapped bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.swapped {
		g.abortSent = true
	}
	return g.inAttempt, g.swapped
}

// abortedInCutOver stops the run, as the operator asked during the
// cut-over, once no attempt is under way.
func (r *Runner) abortedInCutOver(ctx context.Context) error {
	r.abort(ErrAborted)
	return ctx.Err()
}

package preflight

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// lockFloor is the age below which a session holding or waiting for a
// metadata lock is not reported by the long-transactions check: the
// application's own statements hold such locks all the time, briefly.
const lockFloor = time.Second

// checkLongTransactions looks for the sessions that would block the change
// of the table: transactions open for long (one that has touched the table
// keeps a metadata lock on it until it ends, and the change, or the copy's
// cut-over, must wait for that lock), sessions already waiting for a
// metadata lock, and, when the server shows them, the sessions holding a
// metadata lock on the table.
func checkLongTransactions(ctx context.Context, in Input) (Check, error) {
	limit := in.LongTransaction
	if limit <= 0 {
		limit = DefaultLongTransaction
	}
	obs, err := observe(ctx, in.DB, in.Server, in.Database, in.Table)
	if err != nil {
		return Check{}, err
	}
	return obs.longTransactions(limit), nil
}

// longTransactions is the verdict of the long-transactions check on what
// the observation saw.
func (o *observation) longTransactions(limit time.Duration) Check {
	found := map[int64]Session{}
	for _, s := range o.blockers(lockFloor) {
		found[s.ID] = s
	}
	onTable := len(found)
	var long, waiting int
	for id, t := range o.trx {
		if id == o.self || t.age < limit {
			continue
		}
		long++
		if _, ok := found[id]; !ok {
			found[id] = o.session(id)
		}
	}
	// Sessions waiting for a metadata lock on other tables: which table is
	// known only from performance_schema (then blockers has those of this
	// table), and a queue of them says some transaction holds a lock long.
	for id, p := range o.procs {
		if _, ok := found[id]; ok || id == o.self || !p.waitingForTable() || p.age < lockFloor {
			continue
		}
		waiting++
		s := o.session(id)
		s.Lock, s.Waiting = "waits for a metadata lock on another table", true
		if o.lockView != viewPerformanceSchema {
			s.Lock = "waits for a metadata lock"
		}
		found[id] = s
	}
	c := Check{Name: CheckLongTransactions, Status: Pass}
	note := o.note()
	table := mysql.QuoteIdent(o.table)
	if len(found) == 0 {
		var none []string
		if o.process {
			none = append(none, "no transaction open longer than "+roundAge(limit))
		}
		if o.lockView != "" {
			none = append(none, "no session holding or waiting for a metadata lock on "+table)
		} else {
			none = append(none, "no session waiting for a metadata lock")
		}
		c.Message = strings.Join(none, " and ")
		if note != "" {
			c.Message += "; " + note
		}
		return c
	}
	var what []string
	if onTable > 0 {
		what = append(what, plural(onTable, "session holds or waits for", "sessions hold or wait for")+" a metadata lock on "+table)
	}
	if long > 0 {
		what = append(what, plural(long, "transaction is", "transactions are")+" open longer than "+roundAge(limit))
	}
	if waiting > 0 {
		what = append(what, plural(waiting, "session waits", "sessions wait")+" for a metadata lock")
	}
	c.Status = Warn
	c.Message = strings.Join(what, ", ") + ", which could make the change wait and the application's queries queue behind it; let them finish or end them (KILL <id>) before starting"
	if note != "" {
		c.Message += "; " + note
	}
	for _, s := range sortSessions(found) {
		c.Details = append(c.Details, s.String())
	}
	return c
}

// plural is "1 <one>" or "n <many>".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/preflight"
	"github.com/tailor-osc/tailor/internal/schema"
)

// When the shadow's secondary indexes are built (Config.DeferIndexes).
const (
	// DeferIndexesAuto defers them unless a replica follows the binary
	// log: a replica builds them in one statement, and lags by its length.
	// Other binary log readers do not count (preflight.FindFollowers).
	DeferIndexesAuto = "auto"
	// DeferIndexesAlways defers them even with replicas attached.
	DeferIndexesAlways = "always"
	// DeferIndexesNever keeps them on the shadow for the whole copy.
	DeferIndexesNever = "never"
)

// erOnlineLogTooBig is ER_INNODB_ONLINE_LOG_TOO_BIG: the changes made to
// the table while an online index build ran outgrew
// innodb_online_alter_log_max_size.
const erOnlineLogTooBig = 1799

// The index build's statements, and what ends one stuck for good.
const indexBuildBound = 24 * time.Hour

// deferIndexes drops the shadow's plain secondary indexes before the copy
// when Config.DeferIndexes allows it, and remembers them for buildIndexes.
//
// Inserting a chunk costs one B-tree insert per index and row, at random
// places for most secondary indexes; building such an index afterwards
// sorts the rows once (MariaDB 10.11, 1,000,000 sysbench rows on 2 cores:
// copy 3.1 s with its index, 1.7 s without it plus 0.5 s to build it). Only
// non-unique B-tree indexes on stored columns are deferred, and only when
// every non-unique index is one: a unique index must refuse duplicates
// while the copy runs (the copier and the applier rely on it), and the
// indexes come back in their order, so that the new table's definition is
// exactly the one the ALTER gave the shadow (buildIndexes checks it).
func (r *Runner) deferIndexes(ctx context.Context, shadow *schema.Table) error {
	mode := r.cfg.DeferIndexes
	if mode == DeferIndexesNever {
		return nil
	}
	if mode != DeferIndexesAlways {
		if why := r.replicasMayFollow(ctx); why != "" {
			r.log.Info("secondary indexes built during the copy", "phase", PhaseCreateShadow.String(), "reason", why)
			return nil
		}
	}
	def, err := showCreateTable(ctx, r.db, r.cfg.Database, r.shadow)
	if err != nil {
		return err
	}
	keys := schema.PlainKeys(def)
	if why := undeferrable(shadow, keys); why != "" {
		r.log.Info("secondary indexes built during the copy", "phase", PhaseCreateShadow.String(), "reason", why)
		return nil
	}
	if len(keys) == 0 {
		return nil
	}
	drops := make([]string, len(keys))
	for i, k := range keys {
		drops[i] = "DROP INDEX " + mysql.QuoteIdent(k.Name)
	}
	if _, err := r.db.ExecContext(ctx, "ALTER TABLE "+mysql.QuoteTable(r.cfg.Database, r.shadow)+" "+strings.Join(drops, ", ")); err != nil {
		return fmt.Errorf("drop the shadow's secondary indexes for the copy: %w", err)
	}
	r.run.deferredKeys, r.run.shadowDefinition = keys, def
	r.log.Info("secondary indexes deferred until after the copy", "phase", PhaseCreateShadow.String(), "indexes", keyNames(keys))
	return nil
}

// undeferrable says why the shadow's secondary indexes stay for the copy,
// or "" when keys, its plain indexes, may be built after it.
func undeferrable(shadow *schema.Table, keys []schema.KeyDefinition) string {
	generated := map[string]bool{}
	for _, c := range shadow.Columns {
		generated[strings.ToLower(c.Name)] = c.Generated
	}
	plain := map[string]bool{}
	for _, k := range keys {
		plain[strings.ToLower(k.Name)] = true
	}
	for _, idx := range shadow.Indexes {
		if idx.Unique {
			continue
		}
		if !plain[strings.ToLower(idx.Name)] {
			return fmt.Sprintf("index %s is not a plain B-tree index", mysql.QuoteIdent(idx.Name))
		}
		for _, c := range idx.Columns {
			if generated[strings.ToLower(c)] {
				return fmt.Sprintf("index %s covers generated column %s", mysql.QuoteIdent(idx.Name), mysql.QuoteIdent(c))
			}
		}
	}
	return ""
}

// replicasMayFollow says why a replica may replay the binary log, or ""
// when none does. It asks the server now rather than reading the plan's
// replicas check, which reports every registration and binary log reader:
// a second tailor or a change-data-capture tool registers as a replica too,
// and counting it made the copy build the indexes as it went (1,000,000
// rows on 2 cores: 18.2 s instead of 7.6 s) for a replica that was not
// there.
func (r *Runner) replicasMayFollow(ctx context.Context) string {
	if len(r.cfg.Throttle.Replicas) > 0 {
		return followersReason(preflight.Followers{}, r.cfg.Throttle.Replicas)
	}
	in := preflight.Input{DB: r.db, Server: r.server, Conn: r.cfg.Conn}
	// tailor's own reader has not started yet on a new run; excluded all
	// the same, as the throttle does.
	f, err := preflight.FindFollowers(ctx, in, []uint32{r.cfg.ReplicaServerID})
	if err != nil {
		return fmt.Sprintf("tailor could not tell whether replicas follow the binary log (%v)", err)
	}
	if len(f.NotReplicas) > 0 {
		r.log.Info("binary log readers that are not replicas", "phase", PhaseCreateShadow.String(), "readers", f.NotReplicas)
	}
	return followersReason(f, nil)
}

// followersReason says why the indexes are built during the copy given
// the server's followers f and the replicas the operator named, or "".
func followersReason(f preflight.Followers, named []string) string {
	const because = ", and each would build the indexes in one statement and lag by its length (--defer-indexes always overrides)"
	switch {
	case len(named) > 0:
		return "replicas are named with --throttle-control-replicas" + because
	case f.Unlisted != "":
		return "tailor cannot tell whether replicas follow the binary log: " + f.Unlisted + because
	case len(f.Replicas) > 0:
		return "replicas follow the binary log (" + strings.Join(f.Replicas, ", ") + ")" + because
	case len(f.Unconfirmed) > 0:
		return "registrations that may be replicas could not be ruled out (" + strings.Join(f.Unconfirmed, "; ") + ")" + because
	}
	return ""
}

// buildIndexes adds the indexes deferIndexes dropped, in one online ALTER
// of the shadow while the applier goes on writing it, and checks that the
// shadow's definition is again the one the ALTER made.
func (r *Runner) buildIndexes(ctx context.Context) error {
	if len(r.run.deferredKeys) == 0 {
		return nil
	}
	r.setPhase(PhaseBuildIndexes)
	started := time.Now()
	r.log.Info("building secondary indexes", "phase", PhaseBuildIndexes.String(), "indexes", keyNames(r.run.deferredKeys))
	adds := make([]string, len(r.run.deferredKeys))
	for i, k := range r.run.deferredKeys {
		adds[i] = "ADD " + k.Definition
	}
	alter := "ALTER TABLE " + mysql.QuoteTable(r.cfg.Database, r.shadow) + " " + strings.Join(adds, ", ") + ", ALGORITHM=INPLACE, LOCK="
	s, err := mysql.OpenSession(ctx, r.db, indexBuildBound)
	if err != nil {
		return fmt.Errorf("build the shadow's secondary indexes: %w", err)
	}
	defer s.Close()
	if h := r.cfg.testHooks; h != nil && h.beforeIndexBuild != nil {
		h.beforeIndexBuild()
	}
	missing := make([]string, len(r.run.deferredKeys))
	for i, k := range r.run.deferredKeys {
		missing[i] = k.Definition
	}
	if err := r.shadowUnchanged(ctx, PhaseBuildIndexes, missing); err != nil {
		return err
	}
	r.progress.steps.start(started)
	// The server's progress of the ALTER, for the status, read beside it
	// until it returns.
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watch sync.WaitGroup
	watch.Go(func() { r.watchIndexBuild(watchCtx, s.ID) })
	err = s.Exec(ctx, alter+"NONE")
	if mysql.ErrorNumber(err) == erOnlineLogTooBig {
		// The applier wrote more than the server keeps aside during an
		// online build. Building with writes to the shadow held makes the
		// applier wait instead; the binary log keeps its backlog.
		r.log.Warn("the online index build outgrew innodb_online_alter_log_max_size; building again with the applier held", "phase", PhaseBuildIndexes.String())
		r.progress.steps.start(time.Now())
		err = s.Exec(ctx, alter+"SHARED")
	}
	stopWatch()
	watch.Wait()
	if err != nil {
		return fmt.Errorf("build the shadow's secondary indexes: %w", err)
	}
	def, err := showCreateTable(ctx, r.db, r.cfg.Database, r.shadow)
	if err != nil {
		return err
	}
	if withoutAutoIncrement(def) != withoutAutoIncrement(r.run.shadowDefinition) {
		r.log.Error("the shadow's definition changed when its secondary indexes were built again", "phase", PhaseBuildIndexes.String(),
			"definition", def, "expected", r.run.shadowDefinition)
		return errors.New("the new table's definition after building its secondary indexes differs from the one the ALTER made (both are in the log); run again with --defer-indexes never")
	}
	r.log.Info("secondary indexes built", "phase", PhaseBuildIndexes.String(), "elapsed", time.Since(started).Round(time.Millisecond).String())
	return nil
}

func showCreateTable(ctx context.Context, db *sql.DB, database, table string) (string, error) {
	var name, def string
	if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE "+mysql.QuoteTable(database, table)).Scan(&name, &def); err != nil {
		return "", fmt.Errorf("read the definition of %s: %w", table, err)
	}
	return def, nil
}

// autoIncrementOption is the table option SHOW CREATE TABLE prints with the
// table's next AUTO_INCREMENT value, which the copy moves.
var autoIncrementOption = regexp.MustCompile(` AUTO_INCREMENT=\d+`)

func withoutAutoIncrement(def string) string {
	i := strings.LastIndex(def, "\n)")
	if i < 0 {
		return def
	}
	return def[:i] + autoIncrementOption.ReplaceAllString(def[i:], "")
}

func keyNames(keys []schema.KeyDefinition) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Name
	}
	return strings.Join(names, ", ")
}

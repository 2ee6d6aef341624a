package migrate

import (
	"context"
	"os"
	"strings"

	"github.com/tailor-osc/tailor/internal/hooks"
	"github.com/tailor-osc/tailor/internal/operate"
)

// HookEnv is the environment hooks start from: tailor's own, less the
// password, which a hook has no business seeing.
func HookEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MYSQL_PWD=") {
			env = append(env, kv)
		}
	}
	return env
}

// facts describes the run for a hook.
func (r *Runner) facts() hooks.Facts {
	st := r.Status()
	return hooks.Facts{
		Database:      r.cfg.Database,
		Table:         r.cfg.Table,
		ShadowTable:   r.shadow,
		OldTable:      r.old,
		Alter:         r.cfg.Alter,
		Host:          r.cfg.Conn.Addr(),
		Phase:         st.Phase.String(),
		Elapsed:       st.Elapsed,
		CopiedRows:    st.RowsCopied,
		TotalRows:     st.RowsEstimate,
		EventsApplied: st.EventsApplied,
		ETA:           max(st.ETA, 0),
	}
}

// hook runs the hooks of event. Up to the cut-over a failing hook stops
// the migration (that is what a gate hook is for); after it, the change is
// made and a failure is only reported.
func (r *Runner) hook(ctx context.Context, event hooks.Event) error {
	if r.hooks == nil {
		return nil
	}
	return r.runHook(ctx, event, r.facts())
}

func (r *Runner) runHook(ctx context.Context, event hooks.Event, f hooks.Facts) error {
	return operate.FireHook(ctx, r.hooks, event, f, r.log)
}

// finalHook runs on-success or on-failure on a context of its own: the
// run's may be the one that was cancelled.
func (r *Runner) finalHook(err error) {
	if r.hooks == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(context.Background()), hookFinalTimeout)
	defer cancel()
	f := r.facts()
	event := hooks.OnSuccess
	if err != nil {
		event, f.Error = hooks.OnFailure, err.Error()
	}
	_ = r.runHook(ctx, event, f)
}

package migrate

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/tailor-osc/tailor/internal/hooks"
)

// postponePoll is how often a postponed cut-over looks at its flag file.
const postponePoll = 250 * time.Millisecond

// hookFinalTimeout bounds the on-success and on-failure hooks.
const hookFinalTimeout = 2 * time.Minute

// waitWhilePostponed holds the migration before the cut-over while the
// postpone flag file exists. The binary log reader and the applier keep
// running meanwhile, so the shadow stays in step and the swap, once
// released, has only the last moments to catch up. It returns when the file
// is gone or ReleaseCutOver is called, or with the context's error.
func (r *Runner) waitWhilePostponed(ctx context.Context) error {
	path := r.cfg.PostponeCutOverFlagFile
	if path == "" || !fileExists(path) {
		return nil
	}
	select {
	case <-r.releaseCutOver:
		return nil
	default:
	}
	r.setPhase(PhasePostponed)
	r.progress.postponed.Store(true)
	r.metrics.SetCutOverPostponed(true)
	defer func() {
		r.progress.postponed.Store(false)
		r.metrics.SetCutOverPostponed(false)
	}()
	r.log.Info("cut-over postponed: the shadow is kept in step until the flag file is removed or the cut-over command is sent", "phase", PhasePostponed.String(), "flag_file", path)
	if err := r.hook(ctx, hooks.OnBeginPostponed); err != nil {
		return err
	}
	since := time.Now()
	tick := time.NewTicker(postponePoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.releaseCutOver:
			r.log.Info("cut-over released by the operator", "postponed_for", time.Since(since).Round(time.Second).String())
			return nil
		case <-tick.C:
		}
		if !fileExists(path) {
			r.log.Info("cut-over released: the flag file is gone", "flag_file", path, "postponed_for", time.Since(since).Round(time.Second).String())
			return nil
		}
	}
}

// ReleaseCutOver lets a postponed cut-over go ahead (the control
// command "cut-over"); called before the cut-over is due, it makes the
// migration not wait at all.
func (r *Runner) ReleaseCutOver() {
	r.releaseCutOverOnce.Do(func() { close(r.releaseCutOver) })
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

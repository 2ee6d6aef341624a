package operate

import (
	"context"
	"time"
)

// Every calls report every interval until ctx ends: a run's progress lines
// and status hook (Settings.ProgressInterval), its metrics, the server's
// progress of an index build.
func Every(ctx context.Context, interval time.Duration, report func(context.Context)) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if ctx.Err() != nil {
			// The tick and the end came together.
			return
		}
		report(ctx)
	}
}

// ETALabel is how progress shows a time left: "paused" while the work the
// time is for is paused (a rate-based time left then means nothing), the
// time rounded to the second when it is known (eta zero or more), and
// unknown otherwise.
func ETALabel(eta time.Duration, paused bool, unknown string) string {
	switch {
	case paused:
		return "paused"
	case eta >= 0:
		return eta.Round(time.Second).String()
	}
	return unknown
}

package throttle

import (
	"errors"
	"fmt"
	"time"
)

// Limits are what the operator asks the throttle to hold to, as tailor
// alter's and tailor backfill's flags give them (the same flags for both;
// cmd/tailor documents them). Both runners' Configs carry one; Apply turns
// it into the Config of New.
type Limits struct {
	// MaxLag is the replica lag above which the work waits
	// (--max-lag-millis); DefaultMaxLag after Defaults.
	MaxLag time.Duration
	// Replicas are the replicas (host:port) whose lag throttles
	// (--throttle-control-replicas); nil discovers them from the primary.
	Replicas []string
	// MaxLoad throttles, and CriticalLoad aborts, when a global status
	// variable reaches its threshold ("Threads_running=25,...", ParseLoad).
	MaxLoad, CriticalLoad string
	// CriticalLoadHibernate, when set, pauses all work that long on a
	// critical load instead of aborting.
	CriticalLoadHibernate time.Duration
	// FlagFile throttles while the file exists; PanicFlagFile aborts as
	// soon as it exists.
	FlagFile, PanicFlagFile string
	// Query throttles while it returns a number > 0 (--throttle-query).
	Query string
}

// Defaults fills the zero fields of l.
func (l *Limits) Defaults() {
	if l.MaxLag == 0 {
		l.MaxLag = DefaultMaxLag
	}
}

// Validate says, in the flags' words, what in l cannot work.
func (l Limits) Validate() error {
	var errs []error
	if l.MaxLag < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("--max-lag-millis must be at least 100, not %d", l.MaxLag.Milliseconds()))
	}
	if l.CriticalLoadHibernate < 0 {
		errs = append(errs, fmt.Errorf("--critical-load-hibernate-seconds must not be negative, not %d", int64(l.CriticalLoadHibernate.Seconds())))
	}
	for _, f := range []struct{ flag, spec string }{{"--max-load", l.MaxLoad}, {"--critical-load", l.CriticalLoad}} {
		if _, err := ParseLoad(f.spec); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.flag, err))
		}
	}
	for _, r := range l.Replicas {
		if _, err := parseAddr(r); err != nil {
			errs = append(errs, fmt.Errorf("--throttle-control-replicas: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Apply is c with l's limits set; l must have passed Validate (a load that
// does not parse is left out).
func (l Limits) Apply(c Config) Config {
	c.MaxLag = l.MaxLag
	c.Replicas = l.Replicas
	c.MaxLoad, _ = ParseLoad(l.MaxLoad)
	c.CriticalLoad, _ = ParseLoad(l.CriticalLoad)
	c.CriticalLoadHibernate = l.CriticalLoadHibernate
	c.FlagFile, c.PanicFlagFile = l.FlagFile, l.PanicFlagFile
	c.ThrottleQuery = l.Query
	return c
}

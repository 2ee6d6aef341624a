package hooks

// Event names a moment of a migration at which hooks run. Its value is the
// file-name prefix of the hooks that run at that moment ("on-success" runs
// on-success, on-success-notify, on-success.sh, ...).
type Event string

// The events, in the order a migration meets them. The names are gh-ost's,
// so a gh-ost hooks directory mostly works unchanged (the variables differ:
// TAILOR_* instead of GH_OST_*).
const (
	// OnStartup fires once, before anything is checked or created.
	OnStartup Event = "on-startup"
	// OnValidated fires when every preflight check has passed, before the
	// shadow table is created.
	OnValidated Event = "on-validated"
	// OnRowCountComplete fires when the estimate of the table's rows is known
	// (TAILOR_TOTAL_ROWS).
	OnRowCountComplete Event = "on-rowcount-complete"
	// OnBeforeRowCopy fires after the shadow table exists and change capture
	// has started, just before the first chunk is copied.
	OnBeforeRowCopy Event = "on-before-row-copy"
	// OnRowCopyComplete fires when the last chunk has been copied.
	OnRowCopyComplete Event = "on-row-copy-complete"
	// OnBeginPostponed fires when the cut-over is ready but postponed (by
	// the postpone flag file or command), once per postponement.
	OnBeginPostponed Event = "on-begin-postponed"
	// OnBeforeCutOver fires just before the cut-over takes its locks. It is
	// the last moment a hook can stop the migration.
	OnBeforeCutOver Event = "on-before-cut-over"
	// OnSuccess fires after the cut-over has swapped the tables.
	OnSuccess Event = "on-success"
	// OnFailure fires when the migration fails or is interrupted, with
	// TAILOR_ERROR set.
	OnFailure Event = "on-failure"
	// OnStatus fires at every periodic status report, with TAILOR_STATUS set.
	OnStatus Event = "on-status"
	// OnStopReplication exists for compatibility with gh-ost hook
	// directories and is never fired by tailor: gh-ost fires it when it stops
	// replication on a replica for its replica-side cut-over, and tailor's
	// sentry cut-over runs on the primary and never stops replication.
	OnStopReplication Event = "on-stop-replication"
)

// Events returns every event in the order a migration meets them (OnStatus
// and OnStopReplication last). It is a function, not a variable, so no
// caller can change the list for everyone.
func Events() []Event {
	return []Event{
		OnStartup, OnValidated, OnRowCountComplete, OnBeforeRowCopy,
		OnRowCopyComplete, OnBeginPostponed, OnBeforeCutOver,
		OnSuccess, OnFailure, OnStatus, OnStopReplication,
	}
}

// String returns the event's name.
func (e Event) String() string { return string(e) }

// Valid reports whether e is one of the events above.
func (e Event) Valid() bool {
	switch e {
	case OnStartup, OnValidated, OnRowCountComplete, OnBeforeRowCopy,
		OnRowCopyComplete, OnBeginPostponed, OnBeforeCutOver,
		OnSuccess, OnFailure, OnStatus, OnStopReplication:
		return true
	}
	return false
}

// Reports reports whether e fires after the outcome is decided (OnSuccess,
// OnFailure) or only reports progress (OnStatus). For such an event a
// failing hook cannot change anything, so Run still runs the event's other
// hooks: one broken notifier must not silence the others. For every other
// event Run stops at the first failing hook, because the caller is about to
// abort and the later hooks (say, "cut-over starting" announcements) would
// announce something that will not happen.
func (e Event) Reports() bool {
	return e == OnSuccess || e == OnFailure || e == OnStatus
}

package migrate

import (
	"context"
	"errors"
)

// ErrorKind sorts the errors a user can act on; cmd/tailor maps each to an
// exit code in one place.
type ErrorKind int

const (
	// KindFailed is a migration that started and did not finish.
	KindFailed ErrorKind = iota
	// KindInvalid is bad input found before anything was changed: a missing
	// table, an ALTER that does not parse or that the server rejects, a
	// table without a usable key, a server without a ROW binary log.
	KindInvalid
	// KindConnect is a server that cannot be reached or refuses the login.
	KindConnect
	// KindInterrupted is a run stopped by Ctrl-C or SIGTERM.
	KindInterrupted
	// KindLostWrites is a swap after which the binary log showed writes
	// that reached the original after the final catch-up: they are in the
	// old table and missing from the new one (LateWritesError).
	KindLostWrites
	// KindResumable is a migration that stopped for a reason that may
	// pass and kept its shadow and saved state: --resume continues it.
	KindResumable
)

func (k ErrorKind) String() string {
	switch k {
	case KindFailed:
		return "failed"
	case KindInvalid:
		return "invalid"
	case KindConnect:
		return "connect"
	case KindInterrupted:
		return "interrupted"
	case KindLostWrites:
		return "lost-writes"
	case KindResumable:
		return "resumable"
	}
	return "unknown"
}

// Error is an error with its kind.
type Error struct {
	Kind ErrorKind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func invalid(err error) error { return &Error{Kind: KindInvalid, Err: err} }

// KindOf reports the kind of err; errors without one are KindFailed, and
// errors caused by a cancelled context are KindInterrupted.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, context.Canceled) {
		return KindInterrupted
	}
	return KindFailed
}

package mysql

// The ALGORITHM= values of ALTER TABLE, from the cheapest to the dearest.
const (
	// AlgorithmInstant changes only the table's metadata.
	AlgorithmInstant = "INSTANT"
	// AlgorithmNoCopy (MariaDB) changes the table without rebuilding its
	// clustered index, but may still read the whole table, to build a
	// secondary index for instance.
	AlgorithmNoCopy = "NOCOPY"
	// AlgorithmInplace works inside the storage engine, and rebuilds the
	// table unless NOCOPY (or INSTANT) would have done.
	AlgorithmInplace = "INPLACE"
	// AlgorithmCopy copies every row into a new table.
	AlgorithmCopy = "COPY"
)

// The LOCK= values of ALTER TABLE: what other sessions may do while the
// ALTER runs.
const (
	// LockNone lets other sessions read and write.
	LockNone = "NONE"
	// LockShared lets other sessions read only.
	LockShared = "SHARED"
	// LockExclusive lets no other session use the table.
	LockExclusive = "EXCLUSIVE"
)

// Server errors that refuse an ALGORITHM= or LOCK= clause, as opposed to
// refusing the ALTER itself. MySQL and MariaDB share the numbers.
const (
	// ErrAlterNotSupported is "ALGORITHM=X is not supported for this
	// operation. Try ALGORITHM=Y".
	ErrAlterNotSupported = 1845
	// ErrAlterNotSupportedReason is "ALGORITHM=X is not supported. Reason:
	// ... Try ALGORITHM=Y" (also for LOCK=).
	ErrAlterNotSupportedReason = 1846
	// ErrAlterNotSupportedReasonCopy is "COPY algorithm requires a lock".
	ErrAlterNotSupportedReasonCopy = 1847
)

// AlterAlgorithm is one ALGORITHM= and LOCK= pair to append to an ALTER
// TABLE. A server that cannot honour the pair refuses the statement before
// doing any work, which is how tailor learns what the server would do.
type AlterAlgorithm struct {
	// Algorithm is one of the Algorithm constants.
	Algorithm string
	// Lock is one of the Lock constants, or empty to leave the lock to the
	// server (the least restrictive it can do for the algorithm).
	Lock string
}

// Clause is the text to append to an ALTER TABLE's clauses:
// "ALGORITHM=INPLACE, LOCK=NONE".
func (a AlterAlgorithm) Clause() string {
	if a.Lock == "" {
		return "ALGORITHM=" + a.Algorithm
	}
	return "ALGORITHM=" + a.Algorithm + ", LOCK=" + a.Lock
}

func (a AlterAlgorithm) String() string {
	if a.Lock == "" {
		return a.Algorithm
	}
	return a.Algorithm + ", LOCK=" + a.Lock
}

// AlterAlgorithms lists the ALGORITHM=/LOCK= pairs the server understands,
// from the cheapest to the dearest: the first one the server accepts for an
// ALTER is what the server would do with it.
//
//   - INSTANT exists from MySQL 8.0.12 and MariaDB 10.3.7 (where NOCOPY came
//     too); older servers read either word as a syntax error, which would
//     look like a rejected ALTER, so they are not offered.
//   - INPLACE is tried with each lock from the weakest, so the answer says
//     whether writes (LOCK=SHARED) or reads and writes (LOCK=EXCLUSIVE)
//     would wait for the whole ALTER.
//   - MariaDB 11.2 copies with LOCK=NONE (its online ALTER keeps a log of
//     concurrent changes); before that, and on MySQL, COPY blocks writes, and
//     is tried without LOCK=.
func (s Server) AlterAlgorithms() []AlterAlgorithm {
	var out []AlterAlgorithm
	mariadb := s.Flavor == FlavorMariaDB
	if (mariadb && s.Version.AtLeast(10, 3, 7)) || (!mariadb && s.Version.AtLeast(8, 0, 12)) {
		out = append(out, AlterAlgorithm{Algorithm: AlgorithmInstant})
	}
	if mariadb && s.Version.AtLeast(10, 3, 7) {
		out = append(out, AlterAlgorithm{Algorithm: AlgorithmNoCopy})
	}
	out = append(out,
		AlterAlgorithm{Algorithm: AlgorithmInplace, Lock: LockNone},
		AlterAlgorithm{Algorithm: AlgorithmInplace, Lock: LockShared},
		AlterAlgorithm{Algorithm: AlgorithmInplace, Lock: LockExclusive},
	)
	if mariadb && s.Version.AtLeast(11, 2, 0) {
		out = append(out, AlterAlgorithm{Algorithm: AlgorithmCopy, Lock: LockNone})
	}
	return append(out, AlterAlgorithm{Algorithm: AlgorithmCopy})
}

// IsAlgorithmRefusal reports whether err is the server refusing an
// ALGORITHM= or LOCK= clause; any other error refuses the ALTER itself.
func IsAlgorithmRefusal(err error) bool {
	switch ErrorNumber(err) {
	case ErrAlterNotSupported, ErrAlterNotSupportedReason, ErrAlterNotSupportedReasonCopy:
		return true
	}
	return false
}

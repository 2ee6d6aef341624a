package capture

import "database/sql/driver"

// EnumErrorValue is an ENUM's value in a row image when the row holds the
// ENUM's error value: index 0, which a session without strict mode stores
// for a string that is not a member. It reads as the empty string but is
// not the empty member an ENUM may also have: it sorts before every member,
// it is 0 in a numeric context, and a copy of the table (INSERT ... SELECT
// into an ENUM) keeps it as index 0, not as an empty member.
//
// As a statement parameter it is the empty string, which is what it reads
// as: right for a text column and for a comparison with text. Written into
// an ENUM column it would store the empty member (or, in strict mode, be
// refused), so the applier writes an ENUM's error value itself (see
// apply.Applier).
type EnumErrorValue struct{}

// Value returns the empty string, the text the error value reads as.
func (EnumErrorValue) Value() (driver.Value, error) { return "", nil }

// String shows the value in messages.
func (EnumErrorValue) String() string { return "'' (the ENUM's error value, index 0)" }

package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"

	"github.com/tailor-osc/tailor/internal/cutover"
	"github.com/tailor-osc/tailor/internal/state"
)

// maxIdentifier is MySQL's and MariaDB's limit on a table name, in characters.
const maxIdentifier = 64

// ShadowName is the name of the shadow table of table: <table>_tailor_new.
// Like every name the cut-over's RENAME takes, it must sort after the
// original's in the server's lock order (see cutover.NameAfter).
func ShadowName(table string) string { return cutover.NameAfter(table, "_tailor_new") }

// OldName is the name the original keeps after the cut-over:
// <table>_tailor_old.
func OldName(table string) string { return cutover.NameAfter(table, "_tailor_old") }

// StateName is the name of the table that keeps the migration's saved
// state: <table>_tailor_state, made by the state package, which owns it.
func StateName(table string) string { return state.TableName(table) }

// lockName is the name of the server-side lock that keeps two tailor runs
// off the same table. GET_LOCK names are limited to 64 characters.
func lockName(database, table string) string {
	name := "tailor:" + database + "." + table
	if utf8.RuneCountInString(name) <= maxIdentifier && len(name) <= maxIdentifier {
		return name
	}
	sum := sha256.Sum256([]byte(database + "\x00" + table))
	return "tailor:" + hex.EncodeToString(sum[:])[:40]
}

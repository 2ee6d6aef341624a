package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"unicode/utf8"
)

// maxIdentifier is MySQL's and MariaDB's limit on a table name, in characters.
const maxIdentifier = 64

// ShadowName is the name of the shadow table of table: _<table>_new.
func ShadowName(table string) string { return derivedName(table, "_new") }

// OldName is the name the original keeps after the cut-over: _<table>_old.
func OldName(table string) string { return derivedName(table, "_old") }

// derivedName builds _<table><suffix>. When that would pass the 64-character
// limit, the table name is cut short and a hash of the whole name is added,
// so that two long names that share a prefix still get different tables.
func derivedName(table, suffix string) string {
	name := "_" + table + suffix
	if utf8.RuneCountInString(name) <= maxIdentifier {
		return name
	}
	sum := sha256.Sum256([]byte(table))
	tag := "_" + hex.EncodeToString(sum[:])[:8]
	keep := maxIdentifier - 1 - len(tag) - len(suffix)
	runes := []rune(table)
	return "_" + string(runes[:keep]) + tag + suffix
}

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

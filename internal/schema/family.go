package schema

// Family groups the server's data types by how their values behave: how
// they convert into one another, compare, and read back. It is the one
// place that classifies a column's type for the planner's narrowing check
// (package preflight), the checksum's normalizations (package verify), the
// key-space estimate of the progress and the column mapping; the binary log
// decoder keeps its own table, by exact type, of how each is decoded.
type Family int

const (
	FamOther     Family = iota // geometry, JSON, INET6, UUID, ...: compared byte for byte
	FamInteger                 // TINYINT .. BIGINT
	FamDecimal                 // DECIMAL
	FamFloat                   // FLOAT, DOUBLE
	FamBit                     // BIT(n)
	FamYear                    // YEAR
	FamText                    // CHAR, VARCHAR, the TEXT types
	FamBinary                  // BINARY, VARBINARY, the BLOB types
	FamEnum                    // ENUM
	FamSet                     // SET
	FamDate                    // DATE, DATETIME
	FamTimestamp               // TIMESTAMP
	FamTime                    // TIME
)

// Family is the column's type family, from its DATA_TYPE (lower case, as
// information_schema gives it; the SQL aliases are accepted too).
func (c Column) Family() Family { return FamilyOf(c.DataType) }

// FamilyOf is the family of a DATA_TYPE.
func FamilyOf(dataType string) Family {
	switch dataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint":
		return FamInteger
	case "decimal", "numeric":
		return FamDecimal
	case "float", "double", "real":
		return FamFloat
	case "bit":
		return FamBit
	case "year":
		return FamYear
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		return FamText
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return FamBinary
	case "enum":
		return FamEnum
	case "set":
		return FamSet
	case "date", "datetime":
		return FamDate
	case "timestamp":
		return FamTimestamp
	case "time":
		return FamTime
	}
	return FamOther
}

// Numeric reports whether values of the family are numbers.
func (f Family) Numeric() bool {
	return f == FamInteger || f == FamDecimal || f == FamFloat || f == FamBit || f == FamYear
}

// Textual reports whether values of the family are character strings.
func (f Family) Textual() bool { return f == FamText || f == FamEnum || f == FamSet }

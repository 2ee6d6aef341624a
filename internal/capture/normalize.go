package capture

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"

	"github.com/tailor-osc/tailor/internal/schema"
)

// rowDecoder turns the row images go-mysql decodes from a rows event into
// Change images: one value per column of the table, each normalised so that
// binding it as a statement parameter into a column of the same definition
// stores exactly the original value.
//
// What go-mysql v1.13 hands over (with ParseTime and UseDecimal off) and what
// has to be done about it:
//   - integers arrive as int8/int16/int32/int64 read as signed whatever the
//     column, so UNSIGNED values above the signed maximum come out negative:
//     they are reinterpreted at the column's width.
//   - DECIMAL arrives as exact text, temporal types as text (TIMESTAMP in the
//     location the syncer is given, UTC), YEAR as int, FLOAT as float32.
//   - BIT arrives as int64 and SET as an int64 bit mask: BIT(64) and SET with
//     64 members need the top bit, so both become uint64 / member names. A
//     SET with an empty member becomes schema.SetValue, which keeps the bits.
//   - ENUM arrives as its 1-based index; 0 is the "error" value a
//     non-strict session stores for an invalid member, which reads as the
//     empty string but is not an empty member: it becomes
//     schema.EnumErrorValue.
//   - CHAR/VARCHAR arrive as Go strings and TEXT (also JSON, which MariaDB
//     stores as LONGTEXT) as []byte, all in the column's character set, not
//     the connection's utf8mb4: they are kept as those bytes, as Text, which
//     is bound through Placeholder (see Text for why nothing is decoded).
//   - BINARY(n), and MariaDB's UUID, INET4 and INET6, arrive with their
//     trailing zero bytes stripped (the server packs them like CHAR): they
//     are put back up to the type's length. UUID and INET values are then
//     formatted as text, the only form a statement parameter can give them.
//   - Binary values alias the event's buffer: they are copied.
type rowDecoder struct {
	columns []schema.Column
	decode  []valueDecoder
}

// valueDecoder normalises one non-NULL value of a column.
type valueDecoder func(v any) (any, error)

func newRowDecoder(t *schema.Table) (*rowDecoder, error) {
	d := &rowDecoder{columns: t.Columns, decode: make([]valueDecoder, len(t.Columns))}
	for i, c := range t.Columns {
		if c.Ordinal != i+1 {
			return nil, fmt.Errorf("column %s of %s.%s has ordinal %d at position %d", c.Name, t.Database, t.Name, c.Ordinal, i+1)
		}
		dec, err := decoderFor(c)
		if err != nil {
			return nil, fmt.Errorf("column %s of %s.%s: %w", c.Name, t.Database, t.Name, err)
		}
		d.decode[i] = dec
	}
	return d, nil
}

// image normalises one row image. The binary log holds every column in
// table order, generated columns included (MariaDB 10.11 logs the computed
// value of VIRTUAL and STORED columns alike under binlog_row_image=FULL), so
// the image lines up with Table.Columns by position.
func (d *rowDecoder) image(row []any) ([]any, error) {
	if len(row) != len(d.decode) {
		return nil, fmt.Errorf("row image has %d values, the table has %d columns", len(row), len(d.decode))
	}
	out := make([]any, len(row))
	for i, v := range row {
		if v == nil {
			continue
		}
		n, err := d.decode[i](v)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", d.columns[i].Name, err)
		}
		out[i] = n
	}
	return out, nil
}

func decoderFor(c schema.Column) (valueDecoder, error) {
	switch c.DataType {
	case "tinyint", "smallint", "mediumint", "int", "bigint":
		return integerDecoder(c), nil
	case "year":
		return decodeYear, nil
	case "bit":
		return decodeBit, nil
	case "float":
		return decodeFloat, nil
	case "double":
		return decodeDouble, nil
	case "decimal", "date", "time", "datetime", "timestamp":
		return decodeText, nil
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "json":
		return decodeTextColumn, nil
	case "binary":
		return fixedBinaryDecoder(c.MaxLength), nil
	case "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
		// Spatial values are logged as the server's internal format (SRID
		// followed by WKB), which the server accepts back as is.
		"geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection":
		return decodeBinary, nil
	case "uuid":
		return decodeUUID, nil
	case "inet4":
		return inetDecoder(4), nil
	case "inet6":
		return inetDecoder(16), nil
	case "enum":
		return enumDecoder(c.Values), nil
	case "set":
		return setDecoder(c.Values)
	}
	return nil, fmt.Errorf("type %s is not supported by the binary log reader", c.ColumnType)
}

// integerDecoder reinterprets go-mysql's signed integers at the column's
// width when the column is UNSIGNED: an INT UNSIGNED holding 4294967295 is
// logged as the four bytes ff ff ff ff, which go-mysql reads as int32(-1).
func integerDecoder(c schema.Column) valueDecoder {
	bits := map[string]uint{"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "bigint": 64}[c.DataType]
	unsigned := c.Unsigned
	return func(v any) (any, error) {
		n, err := asInt64(v)
		if err != nil {
			return nil, err
		}
		if !unsigned {
			return n, nil
		}
		u := uint64(n)
		if bits < 64 {
			u &= 1<<bits - 1
		}
		return u, nil
	}
}

// decodeYear keeps YEAR numeric: the number 0 stores the year 0000, while
// the string '0' would store 2000.
func decodeYear(v any) (any, error) { return asInt64(v) }

// decodeBit returns BIT(n) as an unsigned number: BIT(64) values with the
// top bit set arrive as negative int64.
func decodeBit(v any) (any, error) {
	n, err := asInt64(v)
	if err != nil {
		return nil, err
	}
	return uint64(n), nil
}

func decodeFloat(v any) (any, error) {
	switch f := v.(type) {
	case float32:
		return f, nil
	}
	return nil, fmt.Errorf("unexpected FLOAT value of type %T", v)
}

func decodeDouble(v any) (any, error) {
	switch f := v.(type) {
	case float64:
		return f, nil
	case float32:
		return float64(f), nil
	}
	return nil, fmt.Errorf("unexpected DOUBLE value of type %T", v)
}

// decodeText passes on values go-mysql already renders as the server's own
// text: DECIMAL digits, and DATE, TIME, DATETIME and TIMESTAMP (in UTC) with
// their fractional digits and zero dates.
func decodeText(v any) (any, error) {
	b, err := asBytes(v)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// decodeTextColumn keeps a text column's bytes, in the column's character
// set, as Text.
func decodeTextColumn(v any) (any, error) {
	b, err := asBytes(v)
	if err != nil {
		return nil, err
	}
	return Text(bytes.Clone(b)), nil
}

func decodeBinary(v any) (any, error) {
	b, err := asBytes(v)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// decodeUUID formats MariaDB's UUID, logged as its 16 bytes in text order
// like BINARY(16), trailing zero bytes stripped, as text. The server takes
// the bytes for a UUID only when they come as a binary string; a statement
// parameter arrives in the connection's character set and is parsed as text.
func decodeUUID(v any) (any, error) {
	b, err := fixedBytes(v, 16)
	if err != nil {
		return nil, fmt.Errorf("UUID: %w", err)
	}
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], nil
}

// inetDecoder formats MariaDB's INET4 and INET6, logged as their 4 or 16
// bytes in network order with trailing zero bytes stripped, as text, for the
// same reason as decodeUUID.
func inetDecoder(size int) valueDecoder {
	return func(v any) (any, error) {
		b, err := fixedBytes(v, size)
		if err != nil {
			return nil, fmt.Errorf("INET%d: %w", size, err)
		}
		addr, _ := netip.AddrFromSlice(b)
		return addr.String(), nil
	}
}

// fixedBytes restores a fixed-size binary value from which the binary log
// stripped the trailing zero bytes.
func fixedBytes(v any, size int) ([]byte, error) {
	b, err := asBytes(v)
	if err != nil {
		return nil, err
	}
	if len(b) > size {
		return nil, fmt.Errorf("value of %d bytes, want at most %d", len(b), size)
	}
	out := make([]byte, size)
	copy(out, b)
	return out, nil
}

// fixedBinaryDecoder restores BINARY(n) values: the server strips trailing
// zero bytes when it writes them to the binary log, and a shorter value
// inserted into BINARY(n) would be padded with zeros anyway, but keeping the
// full value makes the image usable in WHERE clauses and comparisons too.
func fixedBinaryDecoder(length int64) valueDecoder {
	return func(v any) (any, error) {
		b, err := asBytes(v)
		if err != nil {
			return nil, err
		}
		out := make([]byte, max(int64(len(b)), length))
		copy(out, b)
		return out, nil
	}
}

// enumDecoder maps the logged 1-based index to the member's name, and
// index 0, the value a non-strict session stores for an invalid member, to
// schema.EnumErrorValue.
func enumDecoder(members []string) valueDecoder {
	return func(v any) (any, error) {
		n, err := asInt64(v)
		if err != nil {
			return nil, err
		}
		switch {
		case n == 0:
			return schema.EnumErrorValue{}, nil
		case n < 0 || n > int64(len(members)):
			return nil, fmt.Errorf("ENUM index %d out of range 1..%d", n, len(members))
		}
		return members[n-1], nil
	}
}

// setDecoder maps the logged bit mask (bit i for member i) to the members'
// names joined by commas, in definition order as the server shows them; a
// SET with an empty member, whose names are ambiguous, to a
// schema.SetValue that keeps the bits.
func setDecoder(members []string) (valueDecoder, error) {
	if len(members) > 64 {
		return nil, fmt.Errorf("SET has %d members, more than 64", len(members))
	}
	emptyMember := slices.Contains(members, "")
	return func(v any) (any, error) {
		n, err := asInt64(v)
		if err != nil {
			return nil, err
		}
		if len(members) < 64 && uint64(n)>>uint(len(members)) != 0 {
			return nil, fmt.Errorf("SET bit mask %#x has bits beyond its %d members", uint64(n), len(members))
		}
		text := schema.SetText(members, uint64(n))
		if emptyMember {
			return schema.SetValue{Bits: n, Text: text}, nil
		}
		return text, nil
	}, nil
}

func asInt64(v any) (int64, error) {
	switch n := v.(type) {
	case int8:
		return int64(n), nil
	case int16:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case uint8:
		return int64(n), nil
	case uint16:
		return int64(n), nil
	case uint32:
		return int64(n), nil
	case uint64:
		return int64(n), nil
	}
	return 0, fmt.Errorf("unexpected value of type %T for an integer column", v)
}

func asBytes(v any) ([]byte, error) {
	switch b := v.(type) {
	case []byte:
		return b, nil
	case string:
		return []byte(b), nil
	}
	return nil, fmt.Errorf("unexpected value of type %T for a string column", v)
}

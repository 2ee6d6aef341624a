package schema

import "testing"

func TestSameKeyOrder(t *testing.T) {
	col := func(dataType, columnType, collation string, unsigned bool) Column {
		return Column{DataType: dataType, ColumnType: columnType, Collation: collation, Unsigned: unsigned}
	}
	cases := []struct {
		name     string
		old, new Column
		want     bool
	}{
		{"same int", col("int", "int(11)", "", false), col("int", "int(11)", "", false), true},
		{"int to bigint", col("int", "int(11)", "", false), col("bigint", "bigint(20)", "", false), true},
		{"int to bigint unsigned", col("int", "int(11)", "", false), col("bigint", "bigint(20) unsigned", "", true), true},
		{"decimal wider", col("decimal", "decimal(10,2)", "", false), col("decimal", "decimal(12,4)", "", false), true},
		{"varchar longer, same collation", col("varchar", "varchar(20)", "utf8mb4_general_ci", false), col("varchar", "varchar(40)", "utf8mb4_general_ci", false), true},
		{"char to varchar, same collation", col("char", "char(8)", "utf8mb4_general_ci", false), col("varchar", "varchar(8)", "utf8mb4_general_ci", false), false},
		{"char longer", col("char", "char(8)", "utf8mb4_general_ci", false), col("char", "char(16)", "utf8mb4_general_ci", false), true},
		{"collation ci to bin", col("varchar", "varchar(20)", "utf8mb4_general_ci", false), col("varchar", "varchar(20)", "utf8mb4_bin", false), false},
		{"charset change", col("varchar", "varchar(20)", "latin1_swedish_ci", false), col("varchar", "varchar(20)", "utf8mb4_general_ci", false), false},
		{"varbinary longer", col("varbinary", "varbinary(16)", "", false), col("varbinary", "varbinary(32)", "", false), true},
		{"binary longer pads", col("binary", "binary(16)", "", false), col("binary", "binary(32)", "", false), false},
		{"int to varchar", col("int", "int(11)", "", false), col("varchar", "varchar(20)", "utf8mb4_general_ci", false), false},
		{"datetime precision", col("datetime", "datetime", "", false), col("datetime", "datetime(6)", "", false), false},
		{"same datetime", col("datetime", "datetime(6)", "", false), col("datetime", "datetime(6)", "", false), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := SameKeyOrder(c.old, c.new); got != c.want {
				t.Errorf("SameKeyOrder = %v, want %v", got, c.want)
			}
		})
	}
}

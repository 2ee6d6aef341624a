package rowcopy

import (
	"slices"
	"testing"

	"github.com/tailor-osc/tailor/internal/schema"
)

// TestRowLockColumns: the columns a read of keys names to lock the rows
// themselves are copied columns outside the walked index and the
// clustered key its records hold, the narrowest; none when the walk is the
// primary key or every copied column is in the index's records. Without a
// primary key, any unique index over NOT NULL columns may be the clustered
// one: a column outside each.
func TestRowLockColumns(t *testing.T) {
	cols := []schema.Column{
		{Name: "id", DataType: "bigint"},
		{Name: "customer", DataType: "varchar", OctetLength: 256},
		{Name: "note", DataType: "text", OctetLength: 65535},
		{Name: "created", DataType: "datetime"},
		{Name: "code", DataType: "varchar", OctetLength: 40},
	}
	primary := schema.Index{Name: "PRIMARY", Unique: true, Columns: []string{"id"}}
	byCustomer := schema.Index{Name: "customer_id", Unique: true, Columns: []string{"customer", "id"}}
	unique := func(name string, cols ...string) schema.Index {
		return schema.Index{Name: name, Unique: true, Columns: cols}
	}
	mapping := func(key string, copied []string, indexes ...schema.Index) *schema.Mapping {
		m := &schema.Mapping{Source: &schema.Table{Columns: cols, Indexes: indexes}, KeyName: key}
		for _, c := range copied {
			m.Columns = append(m.Columns, schema.ColumnPair{Old: c, New: c})
		}
		return m
	}
	all := []string{"id", "customer", "note", "created", "code"}
	tests := []struct {
		name string
		m    *schema.Mapping
		want []string
	}{
		{"the walk is the primary key", mapping("PRIMARY", all, primary, byCustomer), nil},
		{"the narrowest column outside", mapping("customer_id", all, primary, byCustomer), []string{"created"}},
		{"only a wide one outside", mapping("customer_id", []string{"id", "customer", "note"}, primary, byCustomer), []string{"note"}},
		{"everything copied is in the index", mapping("customer_id", []string{"id", "customer"}, primary, byCustomer), nil},
		{"the primary key's columns are in every index", mapping("by_customer", []string{"id", "customer"}, primary, unique("by_customer", "customer")), nil},
		{"a prefix leaves the column in the row", mapping("customer_id", []string{"id", "customer"}, primary,
			schema.Index{Name: "customer_id", Unique: true, Columns: []string{"customer", "id"}, SubParts: []int{10, 0}}), []string{"customer"}},
		// Walking uk_a (customer): the clustered key is uk_a, uk_m
		// (code) or uk_z (created), whichever the server put first.
		{"without a primary key, one column outside each possible clustered key", mapping("uk_a", []string{"customer", "code", "created"},
			unique("uk_a", "customer"), unique("uk_m", "code"), unique("uk_z", "created")), []string{"created", "code"}},
		{"without a primary key, one column may do for all", mapping("uk_a", []string{"customer", "code", "created", "id"},
			unique("uk_a", "customer"), unique("uk_m", "code"), unique("uk_z", "created")), []string{"id"}},
	}
	for _, tt := range tests {
		if got := rowLockColumns(tt.m); !slices.Equal(got, tt.want) {
			t.Errorf("%s: rowLockColumns = %q, want %q", tt.name, got, tt.want)
		}
	}
}

package rowcopy

import (
	"testing"

	"github.com/tailor-osc/tailor/internal/schema"
)

// TestRowLockColumn: the column a read of keys names to lock the rows
// themselves is a copied column outside the walked index and the clustered
// key its records hold, the narrowest; none when the walk is the primary
// key or nothing copied is outside.
func TestRowLockColumn(t *testing.T) {
	cols := []schema.Column{
		{Name: "id", DataType: "bigint"},
		{Name: "customer", DataType: "varchar", OctetLength: 256},
		{Name: "note", DataType: "text", OctetLength: 65535},
		{Name: "created", DataType: "datetime"},
		{Name: "code", DataType: "varchar", OctetLength: 40},
	}
	primary := schema.Index{Name: "PRIMARY", Unique: true, Columns: []string{"id"}}
	byCustomer := schema.Index{Name: "customer_id", Unique: true, Columns: []string{"customer", "id"}}
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
		want string
	}{
		{"the walk is the primary key", mapping("PRIMARY", all, primary, byCustomer), ""},
		{"the narrowest column outside", mapping("customer_id", all, primary, byCustomer), "created"},
		{"only a wide one outside", mapping("customer_id", []string{"id", "customer", "note"}, primary, byCustomer), "note"},
		{"everything copied is in the index", mapping("customer_id", []string{"id", "customer"}, primary, byCustomer), ""},
		{"the primary key's columns are in every index", mapping("by_customer", []string{"id", "customer"}, primary,
			schema.Index{Name: "by_customer", Unique: true, Columns: []string{"customer"}}), ""},
		{"a prefix leaves the column in the row", mapping("customer_id", []string{"id", "customer"}, primary,
			schema.Index{Name: "customer_id", Unique: true, Columns: []string{"customer", "id"}, SubParts: []int{10, 0}}), "customer"},
		{"without a primary key a unique NOT NULL key may be the clustered one", mapping("customer_id", []string{"id", "customer", "code", "note"},
			byCustomer, schema.Index{Name: "by_code", Unique: true, Columns: []string{"code"}}), "note"},
	}
	for _, tt := range tests {
		if got := rowLockColumn(tt.m); got != tt.want {
			t.Errorf("%s: rowLockColumn = %q, want %q", tt.name, got, tt.want)
		}
	}
}

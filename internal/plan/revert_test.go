package plan

import (
	"slices"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/ddl"
	"github.com/tailor-osc/tailor/internal/schema"
)

// shop is the table before each change of the revert tests: a primary key
// and a unique key on code.
func shop() *schema.Table {
	return &schema.Table{Name: "shop", Columns: []schema.Column{
		column("id", "int", "int(11)", false, 0),
		column("name", "varchar", "varchar(40)", false, 40),
		column("qty", "int", "int(11)", false, 0),
		column("note", "varchar", "varchar(20)", true, 20),
		column("code", "varchar", "varchar(10)", false, 10),
	}, Indexes: []schema.Index{
		{Name: "PRIMARY", Unique: true, Columns: []string{"id"}, SubParts: []int{0}},
		{Name: "uq_code", Unique: true, Columns: []string{"code"}, SubParts: []int{0}},
	}}
}

// edited is shop changed by edit.
func edited(edit func(t *schema.Table)) *schema.Table {
	t := shop()
	edit(t)
	return t
}

func colIndex(t *schema.Table, name string) int {
	return slices.IndexFunc(t.Columns, func(c schema.Column) bool { return c.Name == name })
}

func dropCol(t *schema.Table, name string) {
	t.Columns = slices.Delete(t.Columns, colIndex(t, name), colIndex(t, name)+1)
}

func setCol(t *schema.Table, c schema.Column) { t.Columns[colIndex(t, c.Name)] = c }

func dropIndex(t *schema.Table, name string) {
	t.Indexes = slices.DeleteFunc(t.Indexes, func(i schema.Index) bool { return i.Name == name })
}

func uniqueIndex(name string, cols []string, subParts ...int) schema.Index {
	if subParts == nil {
		subParts = make([]int, len(cols))
	}
	return schema.Index{Name: name, Unique: true, Columns: cols, SubParts: subParts}
}

// reviewOf reviews a change as Make would, with the copied pairs found as
// probeAndSample finds them.
func reviewOf(t *testing.T, alter string, strategy StrategyKind, source, target *schema.Table, noDefaultNew, noDefaultOld []string) Revert {
	t.Helper()
	a, err := ddl.Parse(alter)
	if err != nil {
		t.Fatal(err)
	}
	generated := map[string]bool{}
	for _, c := range target.Columns {
		generated[c.Name] = c.Generated
	}
	var pairs [][2]string
	for _, p := range a.CopiedColumns(source.ColumnNames(), target.ColumnNames(), generated) {
		pairs = append(pairs, [2]string{p.Old, p.New})
	}
	return reviewRevert(revertInput{table: source.Name, strategy: strategy, alter: a, source: source, target: target,
		pairs: pairs, noDefaultNew: noDefaultNew, noDefaultOld: noDefaultOld})
}

type wantFinding struct {
	kind   RevertKind
	effect RevertEffect
	cols   string
}

func TestReviewRevert(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		alter  string
		source *schema.Table // shop when nil
		target *schema.Table
		// noDefaultNew and noDefaultOld are the columns NOT NULL without a
		// default, added and in the source.
		noDefaultNew, noDefaultOld []string
		lossless                   bool
		want                       []wantFinding
	}{
		{name: "add index", alter: "ADD INDEX k_qty (qty)",
			target: edited(func(t *schema.Table) {
				t.Indexes = append(t.Indexes, schema.Index{Name: "k_qty", Columns: []string{"qty"}})
			}),
			lossless: true},
		{name: "add unique key", alter: "ADD UNIQUE KEY uq_qty (qty)",
			target:   edited(func(t *schema.Table) { t.Indexes = append(t.Indexes, uniqueIndex("uq_qty", []string{"qty"})) }),
			lossless: true},
		{name: "rename, drop, add and widen", alter: "RENAME COLUMN name TO full_name, DROP COLUMN note, ADD COLUMN tier INT NOT NULL, MODIFY qty BIGINT NOT NULL",
			target: edited(func(t *schema.Table) {
				t.Columns[1].Name = "full_name"
				setCol(t, column("qty", "bigint", "bigint(20)", false, 0))
				dropCol(t, "note")
				t.Columns = append(t.Columns, column("tier", "int", "int(11)", false, 0))
			}),
			noDefaultNew: []string{"tier"}, noDefaultOld: []string{"qty"},
			want: []wantFinding{
				{RevertExpandedColumn, EffectRefused, "qty"},
				{RevertAddedNoDefaultColumn, EffectLost, "tier"},
				{RevertDroppedColumn, EffectLost, "note"},
				{RevertRenamedColumn, EffectNone, "name full_name"},
			}},
		{name: "rename only", alter: "RENAME COLUMN name TO full_name",
			target:   edited(func(t *schema.Table) { t.Columns[1].Name = "full_name" }),
			lossless: true, want: []wantFinding{{RevertRenamedColumn, EffectNone, "name full_name"}}},
		{name: "add nullable column", alter: "ADD COLUMN shipped DATETIME NULL",
			target: edited(func(t *schema.Table) {
				t.Columns = append(t.Columns, column("shipped", "datetime", "datetime", true, 0))
			}),
			want: []wantFinding{{RevertAddedColumn, EffectLost, "shipped"}}},
		{name: "add generated column", alter: "ADD COLUMN twice INT AS (qty * 2) VIRTUAL",
			target: edited(func(t *schema.Table) {
				c := column("twice", "int", "int(11)", true, 0)
				c.Generated = true
				t.Columns = append(t.Columns, c)
			}),
			lossless: true},
		{name: "drop NOT NULL column without default", alter: "DROP COLUMN qty",
			target: edited(func(t *schema.Table) { dropCol(t, "qty") }), noDefaultOld: []string{"qty"},
			want: []wantFinding{{RevertDroppedNoDefaultColumn, EffectRefused, "qty"}}},
		{name: "allow NULL", alter: "MODIFY name VARCHAR(40) NULL",
			target: edited(func(t *schema.Table) { setCol(t, column("name", "varchar", "varchar(40)", true, 40)) }),
			want:   []wantFinding{{RevertExpandedColumn, EffectRefused, "name"}}},
		{name: "longer string", alter: "MODIFY note VARCHAR(30) NULL",
			target: edited(func(t *schema.Table) { setCol(t, column("note", "varchar", "varchar(30)", true, 30)) }),
			want:   []wantFinding{{RevertExpandedColumn, EffectRefused, "note"}}},
		{name: "narrower integer", alter: "MODIFY qty SMALLINT NOT NULL",
			target:   edited(func(t *schema.Table) { setCol(t, column("qty", "smallint", "smallint(6)", false, 0)) }),
			lossless: true},
		{name: "larger character set", alter: "MODIFY note VARCHAR(20) CHARACTER SET utf8mb4 NULL",
			source: edited(func(t *schema.Table) { t.Columns[3].Charset, t.Columns[3].Collation = "latin1", "latin1_bin" }),
			target: shop(),
			want:   []wantFinding{{RevertExpandedColumn, EffectRefused, "note"}}},
		{name: "smaller character set", alter: "MODIFY note VARCHAR(20) CHARACTER SET latin1 NULL",
			target:   edited(func(t *schema.Table) { t.Columns[3].Charset, t.Columns[3].Collation = "latin1", "latin1_bin" }),
			lossless: true},
		{name: "drop unique key", alter: "DROP INDEX uq_code",
			target: edited(func(t *schema.Table) { dropIndex(t, "uq_code") }),
			want:   []wantFinding{{RevertRemovedUniqueKey, EffectRefused, "code"}}},
		{name: "unique key on more columns", alter: "DROP INDEX uq_code, ADD UNIQUE KEY uq_code (code, qty)",
			target: edited(func(t *schema.Table) {
				dropIndex(t, "uq_code")
				t.Indexes = append(t.Indexes, uniqueIndex("uq_code", []string{"code", "qty"}))
			}),
			want: []wantFinding{{RevertRemovedUniqueKey, EffectRefused, "code"}}},
		{name: "unique key on fewer columns", alter: "DROP INDEX uq_code_qty, ADD UNIQUE KEY uq_code (code)",
			source: edited(func(t *schema.Table) {
				dropIndex(t, "uq_code")
				t.Indexes = append(t.Indexes, uniqueIndex("uq_code_qty", []string{"code", "qty"}))
			}),
			target:   shop(),
			lossless: true},
		{name: "primary key gains a column", alter: "DROP PRIMARY KEY, ADD PRIMARY KEY (id, qty)",
			target: edited(func(t *schema.Table) { t.Indexes[0] = uniqueIndex("PRIMARY", []string{"id", "qty"}) }),
			want:   []wantFinding{{RevertRemovedUniqueKey, EffectRefused, "id"}}},
		{name: "unique column compares differently", alter: "MODIFY code VARCHAR(10) COLLATE utf8mb4_general_ci NOT NULL",
			target: edited(func(t *schema.Table) { t.Columns[4].Collation = "utf8mb4_general_ci" }),
			want:   []wantFinding{{RevertRemovedUniqueKey, EffectRefused, "code"}}},
		{name: "shorter unique prefix", alter: "DROP INDEX uq_code, ADD UNIQUE KEY uq_code (code(3))",
			source: edited(func(t *schema.Table) { t.Indexes[1] = uniqueIndex("uq_code", []string{"code"}, 5) }),
			target: edited(func(t *schema.Table) { t.Indexes[1] = uniqueIndex("uq_code", []string{"code"}, 3) }), lossless: true},
		{name: "longer unique prefix", alter: "DROP INDEX uq_code, ADD UNIQUE KEY uq_code (code)",
			source: edited(func(t *schema.Table) { t.Indexes[1] = uniqueIndex("uq_code", []string{"code"}, 5) }),
			target: shop(),
			want:   []wantFinding{{RevertRemovedUniqueKey, EffectRefused, "code"}}},
		{name: "unique column dropped", alter: "DROP COLUMN code",
			target: edited(func(t *schema.Table) { dropCol(t, "code"); dropIndex(t, "uq_code") }),
			want: []wantFinding{
				{RevertRemovedUniqueKey, EffectRefused, "code"},
				{RevertDroppedColumn, EffectLost, "code"},
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			source := tc.source
			if source == nil {
				source = shop()
			}
			r := reviewOf(t, tc.alter, StrategyOnlineCopy, source, tc.target, tc.noDefaultNew, tc.noDefaultOld)
			if !r.Replayable || r.Lossless != tc.lossless || r.InverseAlter != "" {
				t.Errorf("replayable %v, lossless %v, inverse %q; want replayable, lossless %v, no inverse", r.Replayable, r.Lossless, r.InverseAlter, tc.lossless)
			}
			assertFindings(t, r, tc.want)
		})
	}
}

func assertFindings(t *testing.T, r Revert, want []wantFinding) {
	t.Helper()
	var got []wantFinding
	for _, f := range r.Findings {
		got = append(got, wantFinding{f.Kind, f.Effect, strings.Join(f.Columns, " ")})
		if f.Why == "" || strings.Count(f.Why, ". ") > 0 || !strings.HasSuffix(f.Why, ".") || f.Columns == nil {
			t.Errorf("%s: want one sentence and a column list: %+v", f.Kind, f)
		}
		if (f.Kind == RevertRemovedUniqueKey) != (f.Key != "") {
			t.Errorf("%s: key %q", f.Kind, f.Key)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings %v, want %v", got, want)
		for _, f := range r.Findings {
			t.Logf("  %s: %s", f.Kind, f.Why)
		}
	}
}

func TestReviewRevertNoSharedKey(t *testing.T) {
	t.Parallel()
	target := edited(func(t *schema.Table) {
		dropIndex(t, "uq_code")
		t.Indexes[0] = uniqueIndex("PRIMARY", []string{"name"})
	})
	r := reviewOf(t, "DROP PRIMARY KEY, DROP INDEX uq_code, ADD PRIMARY KEY (name)", StrategyOnlineCopy, shop(), target, nil, nil)
	if r.Replayable || r.Lossless {
		t.Errorf("replayable %v, lossless %v; want neither", r.Replayable, r.Lossless)
	}
	assertFindings(t, r, []wantFinding{{RevertNoSharedKey, EffectRefused, ""}})
}

// shopDefinition is SHOW CREATE TABLE of shop as MariaDB 10.11 prints it,
// with its column and key lines given.
func shopDefinition(lines ...string) string {
	return "CREATE TABLE `shop` (\n  " + strings.Join(lines, ",\n  ") + "\n) ENGINE=InnoDB AUTO_INCREMENT=31 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
}

var shopLines = []string{
	"`id` int(11) NOT NULL AUTO_INCREMENT",
	"`name` varchar(40) NOT NULL",
	"`qty` int(11) NOT NULL",
	"`note` varchar(20) DEFAULT NULL COMMENT 'a ( `note`'",
	"`code` varchar(10) NOT NULL",
	"PRIMARY KEY (`id`)",
	"UNIQUE KEY `uq_code` (`code`)",
	"KEY `k_name` (`name`(10),`qty`)",
}

// shopLinesWith is shopLines with line i (if not -1) replaced by repl (by
// nothing when repl is empty), then more added before the keys.
func shopLinesWith(i int, repl []string, more ...string) []string {
	out := slices.Clone(shopLines)
	if i >= 0 {
		out = slices.Concat(shopLines[:i], repl, shopLines[i+1:])
	}
	keys := slices.IndexFunc(out, func(l string) bool { return !strings.HasPrefix(l, "`") })
	return slices.Concat(out[:keys], more, out[keys:])
}

func TestInverseAlter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, alter string
		// target are the lines of the new definition.
		target []string
		// options replaces the new definition's table options.
		options string
		want    string
		// none is in the reason when there is no inverse.
		none string
	}{
		{name: "add column", alter: "ADD COLUMN shipped DATETIME NULL",
			target: shopLinesWith(-1, nil, "`shipped` datetime DEFAULT NULL"),
			want:   "ALTER TABLE `shop` DROP COLUMN `shipped`;"},
		{name: "add column first", alter: "ADD COLUMN shipped DATETIME NULL FIRST",
			target: append([]string{"`shipped` datetime DEFAULT NULL"}, shopLines...),
			want:   "ALTER TABLE `shop` DROP COLUMN `shipped`;"},
		{name: "rename a key column", alter: "RENAME COLUMN name TO full_name",
			target: shopLinesWith(1, []string{"`full_name` varchar(40) NOT NULL"}),
			want:   "ALTER TABLE `shop` CHANGE COLUMN `full_name` `name` varchar(40) NOT NULL;"},
		{name: "widen", alter: "MODIFY name VARCHAR(60) NOT NULL",
			target: shopLinesWith(1, []string{"`name` varchar(60) NOT NULL"}),
			want:   "ALTER TABLE `shop` MODIFY COLUMN `name` varchar(40) NOT NULL;"},
		{name: "move a column", alter: "MODIFY qty INT NOT NULL FIRST",
			target: slices.Concat([]string{shopLines[2]}, shopLines[:2], shopLines[3:]),
			want: "ALTER TABLE `shop` MODIFY COLUMN `id` int(11) NOT NULL AUTO_INCREMENT FIRST, MODIFY COLUMN `name` varchar(40) NOT NULL AFTER `id`, " +
				"MODIFY COLUMN `qty` int(11) NOT NULL AFTER `name`, MODIFY COLUMN `note` varchar(20) DEFAULT NULL COMMENT 'a ( `note`' AFTER `qty`, MODIFY COLUMN `code` varchar(10) NOT NULL AFTER `note`;"},
		{name: "drop a unique key", alter: "DROP INDEX uq_code",
			target: slices.DeleteFunc(slices.Clone(shopLines), func(l string) bool { return strings.HasPrefix(l, "UNIQUE") }),
			want:   "ALTER TABLE `shop` ADD UNIQUE KEY `uq_code` (`code`);"},
		{name: "add a key", alter: "ADD KEY k_qty (qty)",
			target: append(slices.Clone(shopLines), "KEY `k_qty` (`qty`)"),
			want:   "ALTER TABLE `shop` DROP INDEX `k_qty`;"},
		{name: "change a key", alter: "DROP PRIMARY KEY, ADD PRIMARY KEY (id, qty)",
			target: shopLinesWith(5, []string{"PRIMARY KEY (`id`,`qty`)"}),
			want:   "ALTER TABLE `shop` DROP PRIMARY KEY, ADD PRIMARY KEY (`id`);"},
		{name: "drop column", alter: "DROP COLUMN note",
			target: shopLinesWith(3, nil),
			none:   "drops `note`"},
		{name: "table comment", alter: "COMMENT 'x'",
			target: shopLines, options: "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin COMMENT='x'",
			none: "options"},
		{name: "nothing", alter: "AUTO_INCREMENT = 1000",
			target: shopLines,
			none:   "leaves the definition"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			alter, err := ddl.Parse(tc.alter)
			if err != nil {
				t.Fatal(err)
			}
			before := shopDefinition(shopLines...)
			after := strings.Replace(shopDefinition(tc.target...), "AUTO_INCREMENT=31 ", "", 1)
			if tc.options != "" {
				after = after[:strings.LastIndex(after, ")")+2] + tc.options
			}
			source, target := definedTable(t, before), definedTable(t, after)
			got, none := inverseAlter("shop", alter, source, target, before, after)
			if got != tc.want || !strings.Contains(none, tc.none) || (got == "") == (none == "") {
				t.Errorf("inverse %q (none: %q)\nwant    %q (none: %q)", got, none, tc.want, tc.none)
			}
		})
	}
}

// definedTable is a table with the columns of a definition, which is all
// inverseAlter reads of it.
func definedTable(t *testing.T, def string) *schema.Table {
	t.Helper()
	d, ok := parseDefinition(def)
	if !ok {
		t.Fatalf("cannot parse %q", def)
	}
	tbl := &schema.Table{Name: "shop"}
	for _, c := range d.columns {
		tbl.Columns = append(tbl.Columns, schema.Column{Name: c.name})
	}
	return tbl
}

func TestReviewRevertNative(t *testing.T) {
	t.Parallel()
	before := shopDefinition(shopLines...)
	after := shopDefinition(shopLinesWith(-1, nil, "`shipped` datetime DEFAULT NULL")...)
	a, err := ddl.Parse("ADD COLUMN shipped DATETIME NULL")
	if err != nil {
		t.Fatal(err)
	}
	target := edited(func(t *schema.Table) {
		t.Columns = append(t.Columns, column("shipped", "datetime", "datetime", true, 0))
	})
	r := reviewRevert(revertInput{table: "shop", strategy: StrategyNativeInstant, alter: a, source: shop(), target: target,
		sourceDefinition: before, targetDefinition: after})
	if r.Replayable || r.Lossless || r.InverseAlter != "ALTER TABLE `shop` DROP COLUMN `shipped`;" {
		t.Errorf("revert %+v; want not replayable, inverse DROP COLUMN", r)
	}
	assertFindings(t, r, []wantFinding{{RevertNativeInstant, EffectRefused, ""}})

	after = shopDefinition(shopLinesWith(3, nil)...)
	a, _ = ddl.Parse("DROP COLUMN note")
	r = reviewRevert(revertInput{table: "shop", strategy: StrategyNativeInstant, alter: a, source: shop(), target: edited(func(t *schema.Table) { dropCol(t, "note") }),
		sourceDefinition: before, targetDefinition: after})
	if r.InverseAlter != "" || !strings.Contains(r.Findings[0].Why, "no ALTER undoes it: the change drops `note`") {
		t.Errorf("revert %+v; want no inverse, because of the dropped column", r)
	}
}

func TestRenameKeyColumns(t *testing.T) {
	t.Parallel()
	rename := map[string]string{"full_name": "name", "k": "z"}
	cases := map[string]string{
		"KEY `k` (`full_name`(10),`qty`)":                  "KEY `k` (`name`(10),`qty`)",
		"UNIQUE KEY `k` (`Full_Name`) COMMENT 'x (`k`)'":   "UNIQUE KEY `k` (`name`) COMMENT 'x (`k`)'",
		"PRIMARY KEY (`id`,`full_name`)":                   "PRIMARY KEY (`id`,`name`)",
		"KEY `we``ird` (`full_name`) USING BTREE":          "KEY `we``ird` (`name`) USING BTREE",
		"FULLTEXT KEY `ft` (`full_name`,`k`)":              "FULLTEXT KEY `ft` (`name`,`z`)",
		"UNIQUE KEY `uq` (`code`) USING HASH COMMENT '(('": "UNIQUE KEY `uq` (`code`) USING HASH COMMENT '(('",
	}
	for in, want := range cases {
		if got := renameKeyColumns(in, rename); got != want {
			t.Errorf("renameKeyColumns(%q) = %q, want %q", in, got, want)
		}
	}
}

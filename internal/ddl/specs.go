package ddl

import (
	"strings"

	"github.com/pingcap/tidb/pkg/parser/ast"
	"github.com/pingcap/tidb/pkg/parser/format"
	"github.com/pingcap/tidb/pkg/parser/types"
)

// addSpec records what one clause of the ALTER does, or rejects it. Clauses are
// allowed by name; anything this switch does not know is refused, because a clause
// tailor does not understand might change how rows must be copied.
func (a *Alter) addSpec(spec *ast.AlterTableSpec) error {
	switch spec.Tp {
	case ast.AlterTableAddColumns:
		for _, col := range spec.NewColumns {
			name := lower(col.Name.Name.O)
			a.Added = append(a.Added, name)
			if spec.IfNotExists {
				a.addedIfNotExists[name] = true
			}
			a.addColumnOptions(col)
		}
		// ADD (a INT, INDEX (a)) puts keys in the same list as the columns.
		for _, c := range spec.NewConstraints {
			a.addConstraint(c)
		}
	case ast.AlterTableAddConstraint:
		a.addConstraint(spec.Constraint)
	case ast.AlterTableDropColumn:
		a.Dropped = append(a.Dropped, lower(spec.OldColumnName.Name.O))
	case ast.AlterTableDropPrimaryKey:
		a.DropsPrimaryKey = true
	case ast.AlterTableDropIndex:
		a.DroppedIndexes = append(a.DroppedIndexes, lower(spec.Name))
	case ast.AlterTableDropCheck:
		// Also DROP CONSTRAINT; see Alter.DroppedIndexes.
		a.DroppedIndexes = append(a.DroppedIndexes, lower(spec.Constraint.Name))
	case ast.AlterTableModifyColumn:
		col := spec.NewColumns[0]
		name := lower(col.Name.Name.O)
		a.Modified = append(a.Modified, ColumnChange{Old: name, New: name, Type: typeText(col.Tp)})
		a.addColumnOptions(col)
	case ast.AlterTableChangeColumn:
		col := spec.NewColumns[0]
		oldName, newName := lower(spec.OldColumnName.Name.O), lower(col.Name.Name.O)
		if oldName != newName {
			a.Renames[oldName] = newName
		}
		a.Modified = append(a.Modified, ColumnChange{Old: oldName, New: newName, Type: typeText(col.Tp)})
		a.addColumnOptions(col)
	case ast.AlterTableRenameColumn:
		oldName, newName := lower(spec.OldColumnName.Name.O), lower(spec.NewColumnName.Name.O)
		if oldName != newName {
			a.Renames[oldName] = newName
		}
	case ast.AlterTableAlterColumn:
		// ALTER COLUMN c SET DEFAULT x / DROP DEFAULT: the parser carries the column
		// as a definition without a type.
		name := lower(spec.NewColumns[0].Name.Name.O)
		a.Modified = append(a.Modified, ColumnChange{Old: name, New: name})
	case ast.AlterTableOption:
		return checkTableOptions(spec.Options)
	case ast.AlterTableForce, ast.AlterTableDropForeignKey, ast.AlterTableRenameIndex,
		ast.AlterTableIndexInvisible, ast.AlterTableAlterCheck,
		ast.AlterTableEnableKeys, ast.AlterTableDisableKeys:
		// These change the shadow's definition only and leave every row as it is.
	case ast.AlterTableRenameTable:
		return reject("renaming the table is not an online change; use RENAME TABLE after the migration")
	case ast.AlterTableAlgorithm, ast.AlterTableLock:
		// The ALTER runs on the empty shadow table, where these would mean nothing,
		// and the user's table is never altered directly.
		return reject("remove ALGORITHM=/LOCK=: tailor chooses how to apply the change")
	case ast.AlterTableImportTablespace, ast.AlterTableDiscardTablespace:
		return reject("DISCARD/IMPORT TABLESPACE works on the table's data file and cannot be done online; run it directly")
	case ast.AlterTableOrderByColumns:
		// ORDER BY sorts the rows once, as the ALTER copies them; the shadow table is
		// empty when tailor alters it, so the clause would silently do nothing.
		return reject("ORDER BY has no lasting effect on an InnoDB table and tailor cannot honour it; remove it")
	default:
		if isPartitionSpec(spec.Tp) {
			return reject("partition operations are not supported; run them directly with ALTER TABLE")
		}
		return reject("the clause %q is not supported in an online ALTER", restore(spec, format.DefaultRestoreFlags))
	}
	return nil
}

// isPartitionSpec reports whether a clause works on partitions.
func isPartitionSpec(tp ast.AlterTableType) bool {
	switch tp {
	case ast.AlterTableAddPartitions, ast.AlterTablePartitionAttributes,
		ast.AlterTablePartitionOptions, ast.AlterTableCoalescePartitions,
		ast.AlterTableDropPartition, ast.AlterTableTruncatePartition,
		ast.AlterTablePartition, ast.AlterTableRemovePartitioning,
		ast.AlterTableWithValidation, ast.AlterTableWithoutValidation,
		ast.AlterTableRebuildPartition, ast.AlterTableReorganizePartition,
		ast.AlterTableCheckPartitions, ast.AlterTableExchangePartition,
		ast.AlterTableOptimizePartition, ast.AlterTableRepairPartition,
		ast.AlterTableImportPartitionTablespace, ast.AlterTableDiscardPartitionTablespace,
		ast.AlterTableDropFirstPartition, ast.AlterTableAddLastPartition,
		ast.AlterTableReorganizeLastPartition, ast.AlterTableReorganizeFirstPartition:
		return true
	}
	return false
}

// checkTableOptions rejects the table options that only TiDB knows. Everything else
// (ENGINE=InnoDB, CONVERT TO CHARACTER SET, COMMENT, ROW_FORMAT, ...) is a rebuild
// or a definition change that the shadow table takes like any other.
func checkTableOptions(opts []*ast.TableOption) error {
	for _, o := range opts {
		switch o.Tp {
		case ast.TableOptionAutoIdCache, ast.TableOptionAutoRandomBase,
			ast.TableOptionShardRowID, ast.TableOptionPreSplitRegion,
			ast.TableOptionTTL, ast.TableOptionTTLEnable, ast.TableOptionTTLJobInterval,
			ast.TableOptionAffinity, ast.TableOptionPlacementPolicy,
			ast.TableOptionStatsBuckets, ast.TableOptionStatsTopN,
			ast.TableOptionStatsColsChoice, ast.TableOptionStatsColList,
			ast.TableOptionStatsSampleRate:
			return reject("the table option %q is TiDB syntax that MySQL and MariaDB do not accept", restore(o, format.DefaultRestoreFlags))
		}
	}
	return nil
}

// addConstraint records an index, key or foreign key added by the ALTER.
func (a *Alter) addConstraint(c *ast.Constraint) {
	switch c.Tp {
	case ast.ConstraintPrimaryKey:
		a.NewUniqueKeys = append(a.NewUniqueKeys, primaryKey(keyColumns(c.Keys)...))
	case ast.ConstraintUniq, ast.ConstraintUniqKey, ast.ConstraintUniqIndex:
		a.NewUniqueKeys = append(a.NewUniqueKeys, Key{Name: lower(c.Name), Columns: keyColumns(c.Keys), Unique: true})
	case ast.ConstraintKey, ast.ConstraintIndex, ast.ConstraintFulltext,
		ast.ConstraintVector, ast.ConstraintColumnar:
		a.AddedIndexes = append(a.AddedIndexes, Key{Name: lower(c.Name), Columns: keyColumns(c.Keys)})
	case ast.ConstraintForeignKey:
		a.AddsForeignKey = true
	}
}

// addColumnOptions records the keys a column definition creates inline
// ("c INT UNIQUE", "c INT PRIMARY KEY", "c INT REFERENCES p(id)").
func (a *Alter) addColumnOptions(col *ast.ColumnDef) {
	name := lower(col.Name.Name.O)
	for _, o := range col.Options {
		switch o.Tp {
		case ast.ColumnOptionPrimaryKey:
			a.NewUniqueKeys = append(a.NewUniqueKeys, primaryKey(name))
		case ast.ColumnOptionUniqKey:
			a.NewUniqueKeys = append(a.NewUniqueKeys, Key{Columns: []string{name}, Unique: true})
		case ast.ColumnOptionReference:
			a.AddsForeignKey = true
		}
	}
}

// primaryKey returns the key for a PRIMARY KEY; the server names it PRIMARY and
// ignores any name the user gives.
func primaryKey(cols ...string) Key {
	return Key{Name: "primary", Columns: cols, Primary: true, Unique: true}
}

// keyColumns returns the lower-cased column names of an index, or the
// parenthesised expression for an expression key part.
func keyColumns(parts []*ast.IndexPartSpecification) []string {
	cols := make([]string, 0, len(parts))
	for _, p := range parts {
		if p.Column != nil {
			cols = append(cols, lower(p.Column.Name.O))
			continue
		}
		cols = append(cols, "("+restore(p.Expr, format.RestoreKeyWordLowercase|format.RestoreStringSingleQuotes|format.RestoreNameBackQuotes)+")")
	}
	return cols
}

// typeText renders a column type in lower case, as the parser understood it,
// without its character set and collation: the parser may have read a
// stand-in for those (see parsableCharsets), and the server's definition of
// the shadow is what tells them.
func typeText(tp *types.FieldType) string {
	if tp == nil {
		return ""
	}
	tp = tp.Clone()
	tp.SetCharset("")
	tp.SetCollate("")
	return restore(tp, format.RestoreKeyWordLowercase|format.RestoreStringSingleQuotes|format.RestoreNameBackQuotes)
}

// restorer is anything the parser can print back as SQL.
type restorer interface {
	Restore(ctx *format.RestoreCtx) error
}

// restore prints n back as SQL. It is used for messages and for types, never for
// what is sent to the server. A node that cannot be printed yields what was written
// before the failure; that is acceptable for a message.
func restore(n restorer, flags format.RestoreFlags) string {
	var sb strings.Builder
	_ = n.Restore(format.NewRestoreCtx(flags, &sb))
	return sb.String()
}

func lower(s string) string { return strings.ToLower(s) }

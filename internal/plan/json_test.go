package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// docPath is the JSON schema's documentation, which must stay in step with
// the types.
const docPath = "../../docs/plan-json.md"

// documentedFields are the field paths in the first column of the tables
// of docs/plan-json.md: "`native.refused[].clause`".
func documentedFields(t *testing.T) []string {
	t.Helper()
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_.\\[\\]]+)` \\|").FindAllSubmatch(doc, -1) {
		out = append(out, string(m[1]))
	}
	sort.Strings(out)
	return out
}

// typeFields lists the JSON field paths of t, as documentedFields spells
// them.
func typeFields(t reflect.Type, prefix string, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		path := prefix + name
		*out = append(*out, path)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct:
			typeFields(ft, path+".", out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			typeFields(ft.Elem(), path+"[].", out)
		}
	}
}

// TestJSONFieldsDocumented fails when a field of the JSON form is missing
// from docs/plan-json.md, or the document names a field that is gone.
func TestJSONFieldsDocumented(t *testing.T) {
	var fields []string
	typeFields(reflect.TypeFor[Plan](), "", &fields)
	sort.Strings(fields)
	documented := documentedFields(t)
	for _, f := range fields {
		if !slices.Contains(documented, f) {
			t.Errorf("field %s is not documented in %s", f, docPath)
		}
	}
	for _, f := range documented {
		if !slices.Contains(fields, f) {
			t.Errorf("%s documents %s, which the JSON form does not have", docPath, f)
		}
	}
}

// TestDocumentedEnums checks that the enum values the document lists are
// the ones the code uses.
func TestDocumentedEnums(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{
		string(StrategyNativeInstant), string(StrategyOnlineCopy),
		string(AdviceRenameColumn), string(AdviceDropColumn), string(AdviceAddNotNullColumn), string(AdviceChangeColumnType), string(AdviceSplitColumn),
		string(AdviceChangeKey),
		string(RevertNativeInstant), string(RevertNoSharedKey), string(RevertExpandedColumn), string(RevertRemovedUniqueKey),
		string(RevertAddedColumn), string(RevertAddedNoDefaultColumn), string(RevertDroppedColumn), string(RevertDroppedNoDefaultColumn),
		string(RevertRenamedColumn), string(EffectRefused), string(EffectLost), string(EffectNone),
		"INSTANT", "NOCOPY", "INPLACE", "COPY", "NONE", "SHARED", "EXCLUSIVE", "pass", "warn", "fail",
	} {
		if !bytes.Contains(doc, []byte("`"+v+"`")) {
			t.Errorf("%s does not list the value `%s`", docPath, v)
		}
	}
}

// jsonPaths lists the field paths present in a decoded JSON value.
func jsonPaths(v any, prefix string, out map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			out[prefix+k] = true
			jsonPaths(child, prefix+k+".", out)
		}
	case []any:
		for _, child := range v {
			jsonPaths(child, strings.TrimSuffix(prefix, ".")+"[].", out)
		}
	}
}

// TestPlanJSON makes a real plan and checks that its JSON form is one
// document, has the documented fields, and decodes back to the same plan.
func TestPlanJSON(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createOrders(t, db, ordersRows)
	p, err := Make(context.Background(), db, detectServer(t, db), Options{
		Conn: sbx.Conn(dbName), Database: dbName, Table: "orders", Alter: "MODIFY qty BIGINT NOT NULL, DROP COLUMN note", SampleRows: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	encoded, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", encoded)

	dec := json.NewDecoder(bytes.NewReader(encoded))
	var generic map[string]any
	if err := dec.Decode(&generic); err != nil {
		t.Fatal(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Errorf("more than one JSON document: %v", err)
	}
	present := map[string]bool{}
	jsonPaths(generic, "", present)
	documented := documentedFields(t)
	for path := range present {
		if !slices.Contains(documented, path) {
			t.Errorf("output has undocumented field %s", path)
		}
	}
	for _, path := range []string{"ok", "refused_because", "native.refused[].message", "strategy.kind", "checks[].status",
		"estimate.rows_per_second", "advice[].steps[].sql", "size.copy_bytes", "target_definition", "notes",
		"revert.lossless", "revert.findings[].kind", "revert.findings[].effect"} {
		if !present[path] {
			t.Errorf("output lacks %s", path)
		}
	}

	var back Plan
	if err := json.Unmarshal(encoded, &back); err != nil {
		t.Fatal(err)
	}
	again, err := json.MarshalIndent(&back, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encoded, again) {
		t.Errorf("the plan does not survive a JSON round trip:\n%s\n---\n%s", encoded, again)
	}
	if back.Strategy.Kind != StrategyOnlineCopy || back.Native.Algorithm != "COPY" || back.Estimate == nil || len(back.Advice) != 2 {
		t.Errorf("decoded plan %+v", back)
	}
}

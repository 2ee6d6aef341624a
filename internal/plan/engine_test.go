package plan

import (
	"context"
	"strings"
	"testing"

	"github.com/tailor-osc/tailor/internal/mysql"
)

// TestMakeRefusesEngineChange: MariaDB 10.11 accepts "ENGINE=MyISAM,
// ALGORITHM=INSTANT" (and NOCOPY, and Aria and MEMORY likewise) on an
// InnoDB table, then copies the whole table with writes blocked. The plan
// must not take the server's word for it: the change is not INSTANT, and
// tailor refuses to move a table off InnoDB whichever way it would be made.
// ENGINE=InnoDB, a rebuild in place, is planned as usual.
func TestMakeRefusesEngineChange(t *testing.T) {
	db, dbName := sbx.NewDatabase(t)
	createOrders(t, db, 200)
	server := detectServer(t, db)
	before := takeSnapshot(t, db, dbName, "orders")
	for _, engine := range []string{"MyISAM", "Aria", "MEMORY"} {
		for _, forceCopy := range []bool{false, true} {
			name := engine
			if forceCopy {
				name += " forced copy"
			}
			t.Run(name, func(t *testing.T) {
				p, err := Make(context.Background(), db, server, Options{
					Database: dbName, Table: "orders", Alter: "ENGINE=" + engine, ForceCopy: forceCopy,
				})
				if err != nil {
					t.Fatalf("Make: %v", err)
				}
				var text strings.Builder
				p.WriteText(&text)
				t.Logf("plan:\n%s", text.String())
				if p.OK {
					t.Fatal("the plan would make the change")
				}
				want := "from the InnoDB to the " + engine + " storage engine"
				if len(p.RefusedBecause) != 1 || !strings.Contains(p.RefusedBecause[0], want) {
					t.Errorf("refused because %q; want one sentence saying %q", p.RefusedBecause, want)
				}
				if p.Native.Algorithm != mysql.AlgorithmCopy || p.Strategy.Kind != StrategyOnlineCopy {
					t.Errorf("native %s, strategy %s; want COPY and online-copy", p.Native.Clause, p.Strategy.Kind)
				}
				for i, clause := range []string{"ALGORITHM=INSTANT", "ALGORITHM=NOCOPY"} {
					if i >= len(p.Native.Refused) || p.Native.Refused[i].Clause != clause ||
						!strings.Contains(p.Native.Refused[i].Message, "storage engine") {
						t.Errorf("refusals %+v; want %s refused for the change of storage engine", p.Native.Refused, clause)
					}
				}
				before.assertSame(t, takeSnapshot(t, db, dbName, "orders"))
			})
		}
	}
	t.Run("InnoDB", func(t *testing.T) {
		p, err := Make(context.Background(), db, server, Options{Database: dbName, Table: "orders", Alter: "ENGINE=InnoDB"})
		if err != nil {
			t.Fatalf("Make: %v", err)
		}
		if !p.OK || p.Native.Algorithm != mysql.AlgorithmInplace || p.Native.Lock != mysql.LockNone || p.Strategy.Kind != StrategyOnlineCopy {
			t.Errorf("OK %v (%q), native %s, strategy %s; want OK, INPLACE with LOCK=NONE, online-copy", p.OK, p.RefusedBecause, p.Native.Clause, p.Strategy.Kind)
		}
		before.assertSame(t, takeSnapshot(t, db, dbName, "orders"))
	})
}

// TestRebuiltBy covers the judgement of a clone's storage after a change
// the server accepted as INSTANT or NOCOPY.
func TestRebuiltBy(t *testing.T) {
	t.Parallel()
	innodb := storage{engine: "InnoDB", rowFormat: "Dynamic"}
	cases := []struct {
		name  string
		after storage
		want  string // a part of the reason; "" for none
	}{
		{"unchanged", innodb, ""},
		{"case only", storage{engine: "INNODB", rowFormat: "DYNAMIC"}, ""},
		{"engine", storage{engine: "MyISAM", rowFormat: "Fixed"}, "from the InnoDB to the MyISAM storage engine"},
		{"row format", storage{engine: "InnoDB", rowFormat: "Compact"}, "row format from Dynamic to Compact"},
	}
	for _, c := range cases {
		got := innodb.rebuiltBy(c.after)
		if (got == "") != (c.want == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: rebuiltBy(%+v) = %q, want one containing %q", c.name, c.after, got, c.want)
		}
	}
}

package demo

import (
	"testing"
	"time"

	"github.com/tailor-osc/tailor/internal/workload"
)

func TestLoadSince(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	before := workload.Stats{Transactions: 2, Inserts: 1, Updates: 1, Latencies: []time.Duration{90 * ms, 1 * ms}, LongestStall: 90 * ms}
	after := workload.Stats{Transactions: 5, Inserts: 2, Updates: 2, Deletes: 1, Retries: 1,
		Latencies: []time.Duration{90 * ms, 1 * ms, 3 * ms, 7 * ms, 2 * ms}, LongestStall: 90 * ms, LastError: "an old error"}
	d := loadSince(before, after)
	if d.Transactions != 3 || d.Inserts != 1 || d.Updates != 1 || d.Deletes != 1 || d.Retries != 1 || d.Errors != 0 {
		t.Errorf("counts: %+v", d)
	}
	if len(d.Latencies) != 3 || d.LongestStall != 7*ms {
		t.Errorf("latencies %v, longest %s; want the last 3, longest 7ms (not the earlier 90ms)", d.Latencies, d.LongestStall)
	}
	if d.LastError != "" {
		t.Errorf("last error %q with no error in between", d.LastError)
	}
	if d := loadSince(after, after); d.Transactions != 0 || d.LongestStall != 0 || len(d.Latencies) != 0 {
		t.Errorf("nothing in between: %+v", d)
	}
}

func TestSameDefinition(t *testing.T) {
	t.Parallel()
	const body = " (\n  `id` bigint(20) NOT NULL,\n  `note` text DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
	orders := "CREATE TABLE `orders`" + body
	control := "CREATE TABLE `orders_control`" + body
	if !sameDefinition(orders, "orders", control, "orders_control") {
		t.Error("the same definition under two names differs")
	}
	migrated := "CREATE TABLE `orders` (\n  `id` bigint(20) NOT NULL,\n  `note` mediumtext DEFAULT NULL,\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
	if sameDefinition(migrated, "orders", control, "orders_control") {
		t.Error("a MEDIUMTEXT note is the original's TEXT")
	}
	if sameDefinition(orders, "orders", orders, "orders_control") {
		t.Error("a definition whose name was not stripped matched")
	}
}

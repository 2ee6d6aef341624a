package plan

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestMakeEstimate measures the copy speed of tables of several sizes and
// with several bounds on the sample.
func TestMakeEstimate(t *testing.T) {
	cases := []struct {
		name       string
		rows       int
		sampleRows int
		sampleTime time.Duration
		measured   bool
		exact      bool
		// sampled is the rows the sample must have copied.
		sampled int64
		summary string
	}{
		{name: "empty table", rows: 0, summary: "The table is empty", exact: true},
		{name: "whole table", rows: ordersRows, measured: true, exact: true, sampled: ordersRows, summary: "The whole table (3,000 rows)"},
		{name: "bounded by rows", rows: ordersRows, sampleRows: 1000, measured: true, sampled: 1000, summary: "rows/s"},
		{name: "bounded by time", rows: ordersRows, sampleTime: time.Nanosecond, measured: true, sampled: firstSampleChunk, summary: "in 1 chunk ("},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, dbName := sbx.NewDatabase(t)
			createOrders(t, db, tc.rows)
			p, err := Make(context.Background(), db, detectServer(t, db), Options{
				Database: dbName, Table: "orders", Alter: "MODIFY qty BIGINT NOT NULL",
				SampleRows: tc.sampleRows, SampleTime: tc.sampleTime,
			})
			if err != nil {
				t.Fatal(err)
			}
			e := p.Estimate
			if e == nil {
				t.Fatal("no estimate for an online copy")
			}
			t.Logf("%+v", *e)
			if e.Measured != tc.measured || e.RowsExact != tc.exact || e.SampledRows != tc.sampled || !strings.Contains(e.Summary, tc.summary) {
				t.Errorf("estimate %+v; want measured %v, exact %v, %d rows sampled, summary with %q", *e, tc.measured, tc.exact, tc.sampled, tc.summary)
			}
			if tc.measured && (e.RowsPerSecond <= 0 || e.CopySeconds <= 0 || e.Rows < e.SampledRows) {
				t.Errorf("estimate %+v: rate, time or rows missing", *e)
			}
			if tc.exact && e.Rows != int64(tc.rows) {
				t.Errorf("exact rows %d, want %d", e.Rows, tc.rows)
			}
		})
	}
}

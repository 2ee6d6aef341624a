package throttle

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLimitsValidate(t *testing.T) {
	t.Parallel()
	ok := Limits{}
	ok.Defaults()
	if ok.MaxLag != DefaultMaxLag {
		t.Fatalf("Defaults left MaxLag %s, want %s", ok.MaxLag, DefaultMaxLag)
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("the defaults do not validate: %v", err)
	}
	tests := []struct {
		name   string
		change func(*Limits)
		want   string
	}{
		{"lag too small", func(l *Limits) { l.MaxLag = 50 * time.Millisecond }, "--max-lag-millis must be at least 100, not 50"},
		{"max load", func(l *Limits) { l.MaxLoad = "Threads_running=abc" }, "--max-load: "},
		{"critical load", func(l *Limits) { l.CriticalLoad = "Threads_running" }, "--critical-load: "},
		{"hibernate negative", func(l *Limits) { l.CriticalLoadHibernate = -3 * time.Second }, "--critical-load-hibernate-seconds must not be negative, not -3"},
		{"bad replica", func(l *Limits) { l.Replicas = []string{"db1:notaport"} }, "--throttle-control-replicas: 'db1:notaport' is not a host:port address"},
	}
	for _, tt := range tests {
		l := ok
		tt.change(&l)
		if err := l.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func TestLimitsApply(t *testing.T) {
	t.Parallel()
	l := Limits{
		MaxLag:                2 * time.Second,
		Replicas:              []string{"r1:3306"},
		MaxLoad:               "Threads_running=30",
		CriticalLoad:          "Threads_running=200,Threads_connected=900",
		CriticalLoadHibernate: time.Minute,
		FlagFile:              "/tmp/tf",
		PanicFlagFile:         "/tmp/pf",
		Query:                 "SELECT 0",
	}
	c := l.Apply(Config{Database: "d", HeartbeatTable: "hb"})
	maxLoad, _ := ParseLoad(l.MaxLoad)
	criticalLoad, _ := ParseLoad(l.CriticalLoad)
	want := Config{
		Database: "d", HeartbeatTable: "hb",
		MaxLag: 2 * time.Second, Replicas: []string{"r1:3306"},
		MaxLoad: maxLoad, CriticalLoad: criticalLoad, CriticalLoadHibernate: time.Minute,
		FlagFile: "/tmp/tf", PanicFlagFile: "/tmp/pf", ThrottleQuery: "SELECT 0",
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Apply =\n%+v\nwant\n%+v", c, want)
	}
	if len(c.CriticalLoad) != 2 {
		t.Errorf("critical load parsed into %d thresholds, want 2", len(c.CriticalLoad))
	}
}

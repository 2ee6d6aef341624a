package rowcopy

import (
	"testing"
	"time"
)

func TestSizer(t *testing.T) {
	cases := []struct {
		name    string
		start   int
		observe []struct {
			rows int64
			took time.Duration
		}
		want int
	}{
		{"on target stays", 1000, []struct {
			rows int64
			took time.Duration
		}{{1000, 50 * time.Millisecond}}, 1000},
		{"fast grows by half at most", 1000, []struct {
			rows int64
			took time.Duration
		}{{1000, 5 * time.Millisecond}}, 1500},
		{"keeps growing to the target", 1000, []struct {
			rows int64
			took time.Duration
		}{{1000, 10 * time.Millisecond}, {1500, 15 * time.Millisecond}, {2250, 22500 * time.Microsecond}, {3375, 33750 * time.Microsecond}}, 5000},
		{"slow shrinks at once", 10000, []struct {
			rows int64
			took time.Duration
		}{{10000, 500 * time.Millisecond}}, 1000},
		{"bounded below", 1000, []struct {
			rows int64
			took time.Duration
		}{{1000, 10 * time.Second}}, 100},
		{"bounded above", 40000, []struct {
			rows int64
			took time.Duration
		}{{40000, time.Millisecond}}, 50000},
		{"an empty chunk says nothing", 1000, []struct {
			rows int64
			took time.Duration
		}{{0, time.Second}}, 1000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewSizer(50*time.Millisecond, c.start, 100, 50000)
			for _, o := range c.observe {
				s.Observe(o.rows, o.took)
			}
			if got := s.Size(); got != c.want {
				t.Errorf("size = %d, want %d", got, c.want)
			}
		})
	}
}

package capture

import "testing"

func TestPositionCompare(t *testing.T) {
	t.Parallel()
	cases := []struct {
		a, b Position
		want int
	}{
		{Position{"binlog.000001", 4}, Position{"binlog.000001", 4}, 0},
		{Position{"binlog.000001", 400}, Position{"binlog.000001", 4}, 1},
		{Position{"binlog.000009", 9999}, Position{"binlog.000010", 4}, -1},
		{Position{"binlog.999999", 4}, Position{"binlog.1000000", 4}, -1},
		{Position{}, Position{"binlog.000001", 4}, -1},
	}
	for _, c := range cases {
		if got := c.a.Compare(c.b); got != c.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := c.b.Compare(c.a); got != -c.want {
			t.Errorf("%v.Compare(%v) = %d, want %d", c.b, c.a, got, -c.want)
		}
	}
}

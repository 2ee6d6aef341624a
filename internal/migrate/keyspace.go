package migrate

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/tailor-osc/tailor/internal/mysql"
	"github.com/tailor-osc/tailor/internal/schema"
)

// keySpace is the range of the copy's first key column, when it is an
// integer: once the copy has passed the row estimate (InnoDB statistics,
// which may be well below the truth), how far its low-watermark is along
// that range is what Status reports instead of a percentage stuck at 100.
type keySpace struct {
	lo, hi float64
	w      *watermark
}

// measureKeySpace reads the range of the copy's first key column, if it is
// an integer, for Status. A failure only leaves the status without it.
func (r *Runner) measureKeySpace(ctx context.Context) {
	if r.mapping == nil || len(r.mapping.Key) == 0 || r.watermark == nil {
		return
	}
	name := r.mapping.Key[0].Old
	c, ok := r.mapping.Source.Column(name)
	if !ok {
		return
	}
	if c.Family() != schema.FamInteger {
		return
	}
	col := mysql.QuoteIdent(name)
	var lo, hi sql.NullFloat64
	q := "SELECT MIN(" + col + "), MAX(" + col + ") FROM " + mysql.QuoteTable(r.cfg.Database, r.cfg.Table)
	if err := r.db.QueryRowContext(ctx, q).Scan(&lo, &hi); err != nil || !lo.Valid || !hi.Valid || hi.Float64 <= lo.Float64 {
		return
	}
	r.progress.keySpace.Store(&keySpace{lo: lo.Float64, hi: hi.Float64, w: r.watermark})
}

// fraction is how far the copy's low-watermark is along the key space, in
// [0, 1); false when it cannot tell.
func (k *keySpace) fraction() (float64, bool) {
	low, complete, _ := k.w.position()
	if complete || len(low) == 0 {
		return 0, false
	}
	var v float64
	switch x := low[0].(type) {
	case int64:
		v = float64(x)
	case uint64:
		v = float64(x)
	case int:
		v = float64(x)
	case []byte:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return 0, false
		}
		v = f
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, false
		}
		v = f
	default:
		return 0, false
	}
	return min(max((v-k.lo)/(k.hi-k.lo), 0), 0.999), true
}

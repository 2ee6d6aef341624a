package native

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// TestInstantReportsRebuild pins what MariaDB 10.11 does with a change of
// storage engine: it accepts "ENGINE=MyISAM, ALGORITHM=INSTANT" and copies
// the table. The plan refuses such a change before Instant is called, but
// Instant itself must never report a rebuild as a change made INSTANT.
func TestInstantReportsRebuild(t *testing.T) {
	for _, engine := range []string{"MyISAM", "Aria", "MEMORY"} {
		t.Run(engine, func(t *testing.T) {
			f := newFixture(t)
			_, err := Instant(context.Background(), f.db, f.config("ENGINE="+engine))
			if !errors.Is(err, ErrRebuilt) {
				t.Fatalf("Instant(ENGINE=%s) = %v, want an error wrapping ErrRebuilt", engine, err)
			}
			for _, want := range []string{"InnoDB", engine, "writes blocked"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
	t.Run("an instant change keeps the engine", func(t *testing.T) {
		f := newFixture(t)
		if _, err := Instant(context.Background(), f.db, f.config("ADD COLUMN added int NULL")); err != nil {
			t.Fatalf("Instant: %v", err)
		}
	})
}

package mysql

import (
	"errors"
	"fmt"
	"testing"

	gosql "github.com/go-sql-driver/mysql"
)

func TestIsRetryable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		number uint16
		want   bool
	}{
		{ErrLockDeadlock, true},
		{ErrLockWaitTimeout, true},
		{ErrAutoincReadFailed, true}, // the AUTO-INC lock's deadlock (MDEV-33593)
		{ErrDupEntry, false},
		{1264, false}, // an exhausted AUTO_INCREMENT counter is not a conflict
		{ErrNoSuchTable, false},
	} {
		err := fmt.Errorf("copy chunk: %w", &gosql.MySQLError{Number: c.number})
		if got := IsRetryable(err); got != c.want {
			t.Errorf("IsRetryable(%d) = %v, want %v", c.number, got, c.want)
		}
	}
	if IsRetryable(errors.New("not the server's")) {
		t.Error("an error that is not the server's is retryable")
	}
}

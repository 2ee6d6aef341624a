package apply

import (
	"testing"

	"github.com/tailor-osc/tailor/internal/capture"
)

// TestBytesOf: a text counts as the hexadecimal it is bound as, bytes and
// strings as themselves, anything else as a number.
func TestBytesOf(t *testing.T) {
	if got := bytesOf([]any{capture.Text("abc"), []byte("ab"), "abcd", int64(5), nil}); got != 6+2+4+8+8 {
		t.Errorf("bytesOf = %d, want 28", got)
	}
}

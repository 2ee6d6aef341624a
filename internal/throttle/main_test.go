package throttle

import (
	"os"
	"testing"

	"github.com/tailor-osc/tailor/internal/sandbox"
)

var sbx *sandbox.Sandbox

func TestMain(m *testing.M) { os.Exit(sandbox.RunTestsCheckingLeaks(m, &sbx)) }

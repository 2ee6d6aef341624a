package history

import (
	"os"
	"testing"

	"github.com/tailor-osc/tailor/internal/sandbox"
)

// sbx is the server the integration tests share; each test has its own
// database (sandbox.NewDatabase).
var sbx *sandbox.Sandbox

func TestMain(m *testing.M) { os.Exit(sandbox.RunTests(m, &sbx)) }

// Package bench measures ezapi against baselines taken in the same run and
// writes docs/benchmarks.md. It runs only with EZ_BENCH=1 (make bench):
// timings never decide a pass/fail test.
package bench_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/ez-api/ez-api/tests/testenv"
)

func TestMain(m *testing.M) {
	if os.Getenv("EZ_BENCH") == "" {
		os.Exit(0) // not a test run: see make bench
	}
	code := testenv.Main(m)
	if code == 0 {
		if err := writeReport(); err != nil {
			fmt.Fprintln(os.Stderr, "bench report:", err)
			code = 1
		}
	}
	os.Exit(code)
}

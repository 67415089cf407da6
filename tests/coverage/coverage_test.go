// Package coverage_test checks how much of openapi.yaml the suites
// exercised: every (operation, documented status) pair a response was seen
// for, through the generated client with the contract checker on. make test
// runs it after the other suites (EZ_COVERAGE_DIR holds their records).
package coverage_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/tests/testenv"
)

// minPairs is the share of (operation, status) pairs that must be exercised.
const minPairs = 0.90

func TestContractCoverage(t *testing.T) {
	dir := os.Getenv("EZ_COVERAGE_DIR")
	if dir == "" || os.Getenv("EZ_COVERAGE_CHECK") == "" {
		t.Skip("runs after the suites in make test (EZ_COVERAGE_DIR, EZ_COVERAGE_CHECK)")
	}
	files, err := filepath.Glob(filepath.Join(dir, "exercised-*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no suite recorded its exercised pairs")
	seen := map[string]map[int]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		var m map[string][]int
		require.NoError(t, json.Unmarshal(b, &m))
		for op, sts := range m {
			if seen[op] == nil {
				seen[op] = map[int]bool{}
			}
			for _, s := range sts {
				seen[op][s] = true
			}
		}
	}

	spec, err := testenv.LoadSpec()
	require.NoError(t, err)
	var total, hit int
	var missing, noSuccess []string
	for _, path := range spec.Paths.InMatchingOrder() {
		for method, op := range spec.Paths.Value(path).Operations() {
			success := false
			for code := range op.Responses.Map() {
				status, err := strconv.Atoi(code)
				if err != nil {
					continue // "default" or a range: not a pair
				}
				total++
				if seen[op.OperationID][status] {
					hit++
					if status < 300 {
						success = true
					}
				} else {
					missing = append(missing, fmt.Sprintf("%s %d (%s %s)", op.OperationID, status, method, path))
				}
			}
			if !success {
				noSuccess = append(noSuccess, op.OperationID)
			}
		}
	}
	sort.Strings(missing)
	ratio := float64(hit) / float64(total)
	t.Logf("contract coverage: %d of %d (operation, status) pairs = %.1f%%", hit, total, 100*ratio)
	if len(missing) > 0 {
		t.Logf("not exercised:\n  %s", strings.Join(missing, "\n  "))
	}
	require.Empty(t, noSuccess, "every operation's success response must be exercised")
	require.GreaterOrEqual(t, ratio, minPairs, "contract coverage below %.0f%%", 100*minPairs)
}

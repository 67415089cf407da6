package contract_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/tests/testenv"
)

var docRow = regexp.MustCompile("^\\| `([^`]+)` \\| `([A-Z]+) ([^`]+)` \\| `([^`]+)` \\|$")

// docs/security.md lists every operation with the permission openapi.yaml
// declares for it, and nothing else.
func TestSecurityDocMatchesSpec(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../docs/security.md")
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(raw), "<!-- permissions:begin -->")
	require.True(t, ok)
	table, _, ok := strings.Cut(rest, "<!-- permissions:end -->")
	require.True(t, ok)
	documented := map[string]string{}
	for _, line := range strings.Split(table, "\n") {
		if m := docRow.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			documented[m[1]] = m[2] + " " + m[3] + " " + m[4]
		}
	}
	spec, err := testenv.LoadSpec()
	require.NoError(t, err)
	want := map[string]string{}
	for _, path := range spec.Paths.InMatchingOrder() {
		for method, op := range spec.Paths.Value(path).Operations() {
			want[op.OperationID] = method + " " + path + " " + op.Extensions["x-permission"].(string)
		}
	}
	assert.Equal(t, want, documented, "run make docs to regenerate the table in docs/security.md")
}

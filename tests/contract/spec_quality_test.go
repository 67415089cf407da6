package contract_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/tests/testenv"
)

// Every operation carries what generated clients and Swagger UI need.
func TestEveryOperationIsFullyDescribed(t *testing.T) {
	t.Parallel()
	spec, err := testenv.LoadSpec()
	require.NoError(t, err)
	for _, path := range spec.Paths.InMatchingOrder() {
		for method, op := range spec.Paths.Value(path).Operations() {
			name := method + " " + path
			assert.NotEmpty(t, op.OperationID, "%s: operationId", name)
			assert.NotEmpty(t, op.Tags, "%s: tag", name)
			assert.NotEmpty(t, op.Summary, "%s: summary", name)
			assert.True(t, op.Security != nil || spec.Security != nil, "%s: security", name)
			if op.RequestBody != nil {
				mt := op.RequestBody.Value.Content.Get("application/json")
				require.NotNil(t, mt, "%s: JSON request body", name)
				assert.True(t, mt.Example != nil || len(mt.Examples) > 0, "%s: request body example", name)
			}
		}
	}
}

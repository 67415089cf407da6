package httpapi

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
)

func TestUnvalidatedOperationsAreThoseWithNothingToValidate(t *testing.T) {
	t.Parallel()
	spec, err := gen.GetSpec()
	require.NoError(t, err)
	skip := unvalidatedOperations(spec)
	cases := []struct {
		op   string
		skip bool
	}{
		{"GET /livez", true},
		{"GET /readyz", true},
		{"GET /auth/me", true},
		{"GET /providers/:id", false}, // path parameter
		{"GET /providers", false},     // query parameters
		{"POST /providers", false},    // body
		{"PUT /admin/features", false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.skip, skip[tc.op], tc.op)
	}
	for op := range skip {
		_, path, _ := strings.Cut(op, " ")
		assert.NotContains(t, path, ":", "%s has a path parameter", op)
	}
}

func TestSaneRequestID(t *testing.T) {
	t.Parallel()
	cases := []struct {
		id   string
		sane bool
	}{
		{"", false},
		{"abc-DEF_0.9:z", true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"has space", false},
		{"new\nline", false},
		{"ünï", false},
		{"semi;colon", false},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.sane, saneRequestID(tc.id), "%q", tc.id)
	}
}

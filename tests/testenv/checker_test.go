package testenv_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// The contract checker must catch what it exists to catch: these fake
// servers break openapi.yaml on purpose.
func TestCheckerCatchesContractViolations(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		status      int
		contentType string
		body        string
		wantErr     bool
	}{
		{"accepts_documented_response", 200, "application/json", `{"status":"ok"}`, false},
		{"rejects_undocumented_status", http.StatusTeapot, "application/json", `{"status":"ok"}`, true},
		{"rejects_enum_violation", 200, "application/json", `{"status":"bogus"}`, true},
		{"rejects_missing_required_field", 200, "application/json", `{}`, true},
		{"rejects_wrong_content_type", 200, "text/plain", `ok`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			checker, err := testenv.NewChecker()
			require.NoError(t, err)
			var violations []string
			hc := &http.Client{Transport: &testenv.Transport{
				Base:    http.DefaultTransport,
				Checker: checker,
				Report:  func(format string, args ...any) { violations = append(violations, format) },
			}}
			client, err := apiclient.NewClientWithResponses(srv.URL, apiclient.WithHTTPClient(hc))
			require.NoError(t, err)
			_, err = client.GetLivezWithResponse(t.Context())
			require.NoError(t, err)
			if tc.wantErr {
				assert.Len(t, violations, 1)
			} else {
				assert.Empty(t, violations)
				assert.Equal(t, []int{200}, checker.Exercised()["getLivez"])
			}
		})
	}
}

func TestCheckerRequiresProblemOutsideTheContract(t *testing.T) {
	t.Parallel()
	checker, err := testenv.NewChecker()
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodGet, "/no/such/route", nil)
	err = checker.Check(req, 404, http.Header{"Content-Type": {"application/json"}}, []byte(`{"message":"Not Found"}`))
	assert.Error(t, err)
	err = checker.Check(req, 404, http.Header{"Content-Type": {"application/problem+json"}}, []byte(`{}`))
	assert.NoError(t, err)
}

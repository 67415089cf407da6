package contract_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/tests/testenv"
)

// rawJSON sends body as JSON with the credential, for inputs the generated
// client cannot express (unknown fields, wrong types, invalid UTF-8).
func rawJSON(t *testing.T, env *testenv.Env, method, path, cred string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, env.BaseURL+path, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cred)
	res, err := env.HTTP.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = res.Body.Close() })
	return res
}

// counts is a fingerprint of everything a mutation writes: rows, the
// change sequence (the outbox itself is drained by the publisher) and audit.
type counts struct{ Rows, Version, Audit int }

func countRows(t *testing.T, env *testenv.Env, table string) counts {
	t.Helper()
	var c counts
	require.NoError(t, env.DB.Get(&c.Rows, `SELECT count(*) FROM `+table))
	require.NoError(t, env.DB.Get(&c.Version, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM config_change_seq`))
	require.NoError(t, env.DB.Get(&c.Audit, `SELECT count(*) FROM audit_log WHERE action NOT LIKE 'auth.%'`))
	return c
}

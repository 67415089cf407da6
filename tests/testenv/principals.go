package testenv

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/tests/apiclient"
)

// Bootstrap admin credentials every test package shares.
const (
	AdminUsername = "admin"
	AdminPassword = "test-admin-password-0"
)

// WithToken sends credential as a bearer token.
func WithToken(credential string) apiclient.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+credential)
		return nil
	}
}

// BootstrapAdmin creates the package's first admin through the same
// use-case as `ezapi admin bootstrap` (a no-op when it exists).
func (e *Env) BootstrapAdmin(t testing.TB) {
	t.Helper()
	adm, cleanup, err := app.InitializeAdmin(e.Config, discard{})
	require.NoError(t, err)
	defer cleanup()
	_, err = adm.Operators.Bootstrap(context.Background(), AdminUsername, AdminPassword)
	if err != nil && !errors.Is(err, domain.ErrConflict) {
		require.NoError(t, err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Login returns an access token for the operator.
func (e *Env) Login(t testing.TB, username, password string) string {
	t.Helper()
	res, err := e.Client.LoginWithResponse(context.Background(), apiclient.LoginJSONRequestBody{Username: username, Password: password})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return res.JSON200.AccessToken
}

// AdminToken bootstraps the admin if needed and logs in.
func (e *Env) AdminToken(t testing.TB) string {
	t.Helper()
	e.BootstrapAdmin(t)
	return e.Login(t, AdminUsername, AdminPassword)
}

// CreateOperator makes an operator with role and returns its id and a token.
func (e *Env) CreateOperator(t testing.TB, adminToken, username string, role apiclient.OperatorRole) (int64, string) {
	t.Helper()
	password := "pw-" + username + "-0123456789"
	res, err := e.Client.CreateOperatorWithResponse(context.Background(),
		apiclient.CreateOperatorJSONRequestBody{Username: username, Password: password, Role: role}, WithToken(adminToken))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
	return res.JSON201.Id, e.Login(t, username, password)
}

// CreateServiceToken makes a service token with role and returns its id and secret.
func (e *Env) CreateServiceToken(t testing.TB, adminToken, name string, role apiclient.ServiceTokenRole) (int64, string) {
	t.Helper()
	res, err := e.Client.CreateServiceTokenWithResponse(context.Background(),
		apiclient.CreateServiceTokenJSONRequestBody{Name: name, Role: role}, WithToken(adminToken))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
	return res.JSON201.ServiceToken.Id, res.JSON201.Token
}

// CreateMaster inserts a tenant directly (the masters API belongs to the
// tenancy work) and returns its id and mk- token.
func (e *Env) CreateMaster(t testing.TB, name string) (int64, string) {
	t.Helper()
	tok, err := domain.NewToken(domain.TokenMaster)
	require.NoError(t, err)
	var id int64
	require.NoError(t, e.DB.Get(&id, `INSERT INTO masters (name, token_hash, token_prefix, created_at, updated_at)
VALUES ($1, $2, $3, $4, $4) RETURNING id`, name, tok.Hash, tok.Prefix, time.Now()))
	return id, tok.Plaintext
}

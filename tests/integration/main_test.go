// Package integration runs the repository behavioural suites
// (internal/ports/repotest) against real PostgreSQL.
package integration_test

import (
	"context"
	"os"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// migratedDB opens the package database with the schema applied.
func migratedDB(t *testing.T) *sqlx.DB {
	t.Helper()
	cfg, err := app.LoadConfig(testenv.Environ())
	require.NoError(t, err)
	m, cleanup, err := app.InitializeMigrator(cfg, os.Stderr)
	require.NoError(t, err)
	defer cleanup()
	_, err = m.Up(context.Background())
	require.NoError(t, err)
	// The pool the server uses (binary parameters, delayed cancellation),
	// so the repository suites run the way production does.
	db, err := postgres.Open(postgres.Options{DSN: testenv.DSN(), MaxOpenConns: 8, MaxIdleConns: -1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

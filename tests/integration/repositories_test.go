package integration_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/ports"
	"github.com/ez-api/ez-api/internal/ports/repotest"
)

func TestOperatorRepository(t *testing.T) {
	db := migratedDB(t)
	repotest.OperatorRepository(t, func(t *testing.T) ports.OperatorRepository {
		_, err := db.Exec(`TRUNCATE operators RESTART IDENTITY CASCADE`)
		require.NoError(t, err)
		return postgres.NewOperatorRepository(db)
	})
}

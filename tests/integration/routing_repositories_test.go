package integration_test

import (
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/ports"
	"github.com/ez-api/ez-api/internal/ports/repotest"
)

// truncateRouting empties the routing tables so each sub-test starts clean.
func truncateRouting(t *testing.T, db *sqlx.DB) {
	t.Helper()
	_, err := db.Exec(`TRUNCATE providers, route_groups, models, bindings, config_outbox RESTART IDENTITY CASCADE`)
	require.NoError(t, err)
}

func TestProviderRepository(t *testing.T) {
	db := migratedDB(t)
	repotest.ProviderRepository(t, func(t *testing.T) (ports.ProviderRepository, ports.RouteGroupRepository) {
		truncateRouting(t, db)
		return postgres.NewProviderRepository(db), postgres.NewRouteGroupRepository(db)
	})
}

func TestModelRepository(t *testing.T) {
	db := migratedDB(t)
	repotest.ModelRepository(t, func(t *testing.T) ports.ModelRepository {
		truncateRouting(t, db)
		return postgres.NewModelRepository(db)
	})
}

func TestBindingRepository(t *testing.T) {
	db := migratedDB(t)
	repotest.BindingRepository(t, func(t *testing.T) (ports.BindingRepository, ports.ModelRepository) {
		truncateRouting(t, db)
		return postgres.NewBindingRepository(db), postgres.NewModelRepository(db)
	})
}

func TestBindingResolutionRepository(t *testing.T) {
	db := migratedDB(t)
	repotest.BindingResolutionStore(t, func(t *testing.T) (ports.BindingResolutionStore, ports.BindingRepository, ports.ModelRepository) {
		truncateRouting(t, db)
		return postgres.NewBindingResolutionRepository(db), postgres.NewBindingRepository(db), postgres.NewModelRepository(db)
	})
}

func TestChangeRecorder(t *testing.T) {
	db := migratedDB(t)
	repotest.ChangeRecorder(t, func(t *testing.T) ports.ChangeRecorder {
		truncateRouting(t, db)
		return postgres.NewChangeRecorder(db)
	})
}

package integration_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/testenv"
)

// Replicas starting together migrate once: the goose session lock
// serialises them, and the second finds nothing to do.
func TestConcurrentMigrationsRunOnce(t *testing.T) {
	admin, err := sqlx.Open("postgres", testenv.PGAdminDSN())
	require.NoError(t, err)
	defer admin.Close()
	name := fmt.Sprintf("ezapi_t_migrate_%d", testenv.RedisDB())
	_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	dsn := testenv.PGAdminDSN() + " dbname=" + name

	const replicas = 4
	applied := make([]int, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Go(func() {
			cfg, err := app.LoadConfig(append(testenv.Environ(), "EZ_PG_DSN="+dsn))
			if !assert.NoError(t, err) {
				return
			}
			m, cleanup, err := app.InitializeMigrator(cfg, io.Discard)
			if !assert.NoError(t, err) {
				return
			}
			defer cleanup()
			applied[i], err = m.Up(context.Background())
			assert.NoError(t, err)
		})
	}
	wg.Wait()

	db, err := sqlx.Open("postgres", dsn)
	require.NoError(t, err)
	defer db.Close()
	var versions, distinct int
	require.NoError(t, db.QueryRow(`SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`).Scan(&versions, &distinct))
	assert.Equal(t, distinct, versions, "every migration recorded once")
	total := 0
	for _, n := range applied {
		total += n
	}
	assert.Equal(t, distinct, total, "each migration ran in exactly one replica")
}

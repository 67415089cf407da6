package snapshot_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// TestSlowWriterBlocksNoOtherWriterAndIsNotSkipped: a configuration
// transaction that recorded its change first but commits last neither
// holds up the writers after it (they commit and are published meanwhile)
// nor gets lost: once it commits, its change is published under a higher
// version than theirs.
// Not parallel: the package's Redis DB holds one snapshot.
func TestSlowWriterBlocksNoOtherWriterAndIsNotSkipped(t *testing.T) {
	env := testenv.Start(t, fastSync)
	ctx := context.Background()
	as := testenv.WithToken(env.AdminToken(t))
	rdb := env.Redis(t)
	slow, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "slow-writer"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, slow.StatusCode(), string(slow.Body))
	redisMatchesDatabase(t, env, 5*time.Second)

	// The slow transaction: its change and outbox row are written, then it
	// waits before committing.
	recorded, commit, done := make(chan int64, 1), make(chan struct{}), make(chan error, 1)
	go func() {
		done <- postgres.NewTxRunner(env.DB).InTx(ctx, func(ctx context.Context) error {
			if _, err := env.DB.ExecContext(ctx, `UPDATE models SET input_price_per_mtok = 77 WHERE id = $1`, slow.JSON201.Id); err != nil {
				return err
			}
			seq, err := postgres.NewChangeRecorder(env.DB).Record(ctx, domain.SectionModels, fmt.Sprint(slow.JSON201.Id), domain.OpUpsert)
			recorded <- seq
			if err != nil {
				return err
			}
			<-commit
			return nil
		})
	}()
	var slowSeq int64
	select {
	case slowSeq = <-recorded:
	case err := <-done:
		t.Fatalf("slow transaction ended early: %v", err)
	}
	require.Positive(t, slowSeq)

	// Later writers go through the API and are published while it is open.
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i := range 3 {
		name := fmt.Sprintf("fast-writer-%d", i)
		res, err := env.Client.CreateModelWithResponse(cctx, apiclient.CreateModelJSONRequestBody{Name: name}, as)
		require.NoError(t, err, "a writer waited for the open transaction")
		require.Equal(t, http.StatusCreated, res.StatusCode(), string(res.Body))
		require.Eventually(t, func() bool {
			ok, _ := rdb.HExists(ctx, snapshot.KeyModels, "default."+name).Result()
			return ok
		}, 5*time.Second, 10*time.Millisecond, "published while an earlier-recorded change is uncommitted")
	}
	before, err := rdb.HGet(ctx, snapshot.KeySnapshot, "version").Int64()
	require.NoError(t, err)
	v, err := rdb.HGet(ctx, snapshot.KeyModels, "default.slow-writer").Result()
	require.NoError(t, err)
	assert.NotContains(t, v, `"input_price_per_mtok":77,`, "the uncommitted change is not visible")

	close(commit)
	require.NoError(t, <-done)
	require.Eventually(t, func() bool {
		v, err := rdb.HGet(ctx, snapshot.KeyModels, "default.slow-writer").Result()
		return err == nil && strings.Contains(v, `"input_price_per_mtok":77,`)
	}, 5*time.Second, 10*time.Millisecond, "the late commit is published, not skipped")
	after, err := rdb.HGet(ctx, snapshot.KeySnapshot, "version").Int64()
	require.NoError(t, err)
	assert.Greater(t, after, before, "under a higher version than the changes published before it")
	redisMatchesDatabase(t, env, 5*time.Second)
	requireRedisEqualsFullBuild(t, env, rdb, "after the late commit")
}

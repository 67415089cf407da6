package lifecycle_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/tests/testenv"
)

// TestBinaryOvertakesARedisAheadOfItsFreshDatabase: the real binary starts
// on a fresh database while Redis still holds the snapshot of an earlier
// install at a much higher version. It says so at ERROR with both versions,
// moves its config version past Redis's, lands a full resync that balancers
// (which ignore lower versions) accept, answers POST /sync/snapshot and
// reports healthy.
func TestBinaryOvertakesARedisAheadOfItsFreshDatabase(t *testing.T) {
	t.Parallel()
	dsn := ownDatabase(t)
	// A key prefix of its own: the package's Redis DB is shared by the
	// parallel tests of this package (and pub/sub channels by every DB).
	prefix := fmt.Sprintf("overtake-%d:", time.Now().UnixNano())
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: testenv.RedisAddr(), DB: testenv.RedisDB()})
	defer rdb.Close()
	const ahead = int64(7_000_000)
	require.NoError(t, rdb.HSet(ctx, prefix+snapshot.KeySnapshot, "version", ahead, "checksum", "left-over",
		"updated_at", time.Now().Add(-24*time.Hour).UTC().Format(time.RFC3339)).Err())
	require.NoError(t, rdb.HSet(ctx, prefix+snapshot.KeyModels, "default.left-over", `{"name":"left-over"}`).Err())
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})

	_, addr, logs := startJSON(t, "EZ_PG_DSN="+dsn, "EZ_REDIS__KEY_PREFIX="+prefix)
	base := "http://" + addr

	// Redis moves past the planted version, and the earlier install's data is gone.
	require.Eventually(t, func() bool {
		v, err := rdb.HGet(ctx, prefix+snapshot.KeySnapshot, "version").Int64()
		return err == nil && v > ahead
	}, 20*time.Second, 50*time.Millisecond, "a full resync lands above the planted version; logs:\n%s", logs)
	left, err := rdb.HExists(ctx, prefix+snapshot.KeyModels, "default.left-over").Result()
	require.NoError(t, err)
	assert.False(t, left, "the full resync replaced the earlier install's snapshot")

	var logged struct {
		Level    string `json:"level"`
		Redis    int64  `json:"redis_version"`
		Database *int64 `json:"database_version"`
	}
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"redis_version"`) {
			require.NoError(t, json.Unmarshal([]byte(l), &logged), l)
			break
		}
	}
	assert.Equal(t, "ERROR", logged.Level, "logs:\n%s", logs)
	assert.Equal(t, ahead, logged.Redis)
	require.NotNil(t, logged.Database, "the database's version is logged too")
	assert.Less(t, *logged.Database, ahead)

	db, err := sqlx.Open("postgres", dsn)
	require.NoError(t, err)
	defer db.Close()
	var seq int64
	require.NoError(t, db.Get(&seq, `SELECT last_value FROM config_version`))
	assert.Greater(t, seq, ahead, "the config version moved past Redis's")

	tok, err := domain.NewToken(domain.TokenService)
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO service_tokens (name, role, token_hash, prefix) VALUES ('overtake', 'admin', $1, $2)`, tok.Hash, tok.Prefix)
	require.NoError(t, err)
	client := &http.Client{Timeout: 30 * time.Second}
	req, err := http.NewRequest(http.MethodPost, base+"/sync/snapshot", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+tok.Plaintext)
	res, err := client.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode, string(body))
	var resync struct {
		Version int64 `json:"version"`
	}
	require.NoError(t, json.Unmarshal(body, &resync))
	assert.Greater(t, resync.Version, ahead)

	require.Eventually(t, func() bool {
		res, err := client.Get(base + "/health")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var h struct {
			Status string `json:"status"`
		}
		return res.StatusCode == http.StatusOK && json.NewDecoder(res.Body).Decode(&h) == nil && h.Status == "healthy"
	}, 10*time.Second, 100*time.Millisecond, "/health is not stuck")
	assert.Equal(t, 1, strings.Count(logs.String(), `"redis_version"`), "overtaken once, not in a loop; logs:\n%s", logs)
}

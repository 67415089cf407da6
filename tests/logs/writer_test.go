package logs_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// A batch holding a record already stored takes the writer's general
// (staging) path: only the new record is stored and billed, and the key it
// pushes over its quota is still exhausted in the same transaction.
func TestWriterRetriedBatchBillsOnlyNewRecords(t *testing.T) {
	env, admin, _ := setup(t)
	ctx := context.Background()
	as := testenv.WithToken(admin)
	m, err := env.Client.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: "writer-retry"}, as)
	require.NoError(t, err)
	quota := int64(3000)
	k, err := env.Client.IssueMasterKeyWithResponse(ctx, m.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "metered", QuotaTokens: &quota}, as)
	require.NoError(t, err)
	require.Equal(t, 201, k.StatusCode())
	keyID, masterID := k.JSON201.Key.Id, m.JSON201.Master.Id

	cost := 0.0
	rec := func(id string) domain.LogRecord {
		return domain.LogRecord{CreatedAt: time.Now().UTC().Truncate(time.Microsecond), RequestID: id, KeyID: &keyID,
			MasterID: &masterID, Namespace: "default", Model: "writer-retry", StatusCode: 200, PromptTokens: 1000,
			CompletionTokens: 500, CostUSD: &cost}
	}
	w := postgres.NewLogWriter(env.DB, nil)
	first := rec("wr-1")
	out, err := w.Write(ctx, []domain.LogRecord{first})
	require.NoError(t, err)
	assert.Equal(t, []ports.WriteOutcome{ports.Inserted}, out)

	out, err = w.Write(ctx, []domain.LogRecord{first, rec("wr-2"), first})
	require.NoError(t, err)
	assert.Equal(t, []ports.WriteOutcome{ports.Duplicate, ports.Inserted, ports.Duplicate}, out)

	var used int64
	var status string
	require.NoError(t, env.DB.QueryRow(`SELECT used_tokens, status FROM keys WHERE id = $1`, keyID).Scan(&used, &status))
	assert.Equal(t, int64(3000), used, "each stored record billed once")
	assert.Equal(t, "exhausted", status, "set by the writer in the batch's transaction")
	var requests int64
	require.NoError(t, env.DB.Get(&requests, `SELECT sum(requests) FROM usage_daily WHERE model = 'writer-retry'`))
	assert.Equal(t, int64(2), requests)
}

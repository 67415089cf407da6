package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// LogReader queries logs, the hourly roll-ups and model prices.
type LogReader struct{ db *sqlx.DB }

var (
	_ ports.LogReader   = (*LogReader)(nil)
	_ ports.ModelPrices = (*LogReader)(nil)
)

// NewLogReader builds the reader.
func NewLogReader(db *sqlx.DB) *LogReader { return &LogReader{db: db} }

type logRow struct {
	ID               int64     `db:"id"`
	CreatedAt        time.Time `db:"created_at"`
	RequestID        string    `db:"request_id"`
	KeyID            *int64    `db:"key_id"`
	MasterID         *int64    `db:"master_id"`
	Namespace        string    `db:"namespace"`
	Model            string    `db:"model"`
	ProviderID       *int64    `db:"provider_id"`
	UpstreamModel    string    `db:"upstream_model"`
	StatusCode       int       `db:"status_code"`
	LatencyMS        int       `db:"latency_ms"`
	TTFTMS           int       `db:"ttft_ms"`
	PromptTokens     int64     `db:"prompt_tokens"`
	CompletionTokens int64     `db:"completion_tokens"`
	CachedTokens     int64     `db:"cached_tokens"`
	CostUSD          float64   `db:"cost_usd"`
	Stream           bool      `db:"stream"`
	ClientIP         string    `db:"client_ip"`
	Error            string    `db:"error"`
	BalancerID       string    `db:"balancer_id"`
}

// List implements ports.LogReader: newest first, keyset-paginated on
// (created_at, id).
func (r *LogReader) List(ctx context.Context, f domain.LogFilter) ([]domain.LogRecord, error) {
	where := []string{"created_at >= $1", "created_at < $2"}
	args := []any{f.From, f.To}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.KeyID != nil {
		add("key_id = $%d", *f.KeyID)
	}
	if f.MasterID != nil {
		add("master_id = $%d", *f.MasterID)
	}
	if f.Model != "" {
		add("model = $%d", f.Model)
	}
	if f.ProviderID != nil {
		add("provider_id = $%d", *f.ProviderID)
	}
	if f.StatusClass > 0 {
		add("status_code / 100 = $%d", f.StatusClass)
	}
	if f.RequestID != "" {
		add("request_id = $%d", f.RequestID)
	}
	if f.BeforeAt != nil {
		args = append(args, *f.BeforeAt, f.BeforeID)
		where = append(where, fmt.Sprintf("(created_at, id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	args = append(args, f.Limit)
	q := `SELECT id, ` + strings.Join(logColumns, ", ") + ` FROM logs WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT $%d`, len(args))
	var rows []logRow
	if err := r.db.SelectContext(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("list logs: %w", translate(err))
	}
	out := make([]domain.LogRecord, len(rows))
	for i, row := range rows {
		cost := row.CostUSD
		out[i] = domain.LogRecord{ID: row.ID, CreatedAt: row.CreatedAt, RequestID: row.RequestID, KeyID: row.KeyID,
			MasterID: row.MasterID, Namespace: row.Namespace, Model: row.Model, ProviderID: row.ProviderID,
			UpstreamModel: row.UpstreamModel, StatusCode: row.StatusCode, LatencyMS: row.LatencyMS, TTFTMS: row.TTFTMS,
			PromptTokens: row.PromptTokens, CompletionTokens: row.CompletionTokens, CachedTokens: row.CachedTokens,
			CostUSD: &cost, Stream: row.Stream, ClientIP: row.ClientIP, Error: row.Error, BalancerID: row.BalancerID}
	}
	return out, nil
}

var usageGroupExpr = map[domain.UsageGroup]string{
	domain.GroupByModel:    "model",
	domain.GroupByKey:      "key_id::text",
	domain.GroupByMaster:   "master_id::text",
	domain.GroupByProvider: "provider_id::text",
	domain.GroupByHour:     `to_char(hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:00:00"Z"')`,
	domain.GroupByDay:      `to_char(date_trunc('day', hour, 'UTC') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"00:00:00"Z"')`,
}

// Usage implements ports.LogReader from the hourly roll-ups (hours that
// start in [from, to)).
func (r *LogReader) Usage(ctx context.Context, from, to time.Time, group domain.UsageGroup, masterID *int64) ([]domain.UsageRow, error) {
	expr, ok := usageGroupExpr[group]
	if !ok {
		return nil, domain.NewValidationError("group_by", "unknown grouping")
	}
	q := `SELECT ` + expr + ` AS grp, sum(requests) AS requests, sum(errors) AS errors, sum(prompt_tokens) AS prompt_tokens,
  sum(completion_tokens) AS completion_tokens, sum(cost_usd) AS cost_usd,
  CASE WHEN sum(requests) > 0 THEN sum(latency_sum)::double precision / sum(requests) ELSE 0 END AS avg_latency,
  max(latency_max) AS max_latency
FROM usage_hourly WHERE hour >= date_trunc('hour', $1::timestamptz, 'UTC') AND hour < $2 AND ($3::bigint IS NULL OR master_id = $3)
GROUP BY 1 ORDER BY 1`
	var rows []struct {
		Group            string  `db:"grp"`
		Requests         int64   `db:"requests"`
		Errors           int64   `db:"errors"`
		PromptTokens     int64   `db:"prompt_tokens"`
		CompletionTokens int64   `db:"completion_tokens"`
		CostUSD          float64 `db:"cost_usd"`
		AvgLatency       float64 `db:"avg_latency"`
		MaxLatency       int64   `db:"max_latency"`
	}
	if err := r.db.SelectContext(ctx, &rows, q, from, to, masterID); err != nil {
		return nil, fmt.Errorf("usage: %w", translate(err))
	}
	out := make([]domain.UsageRow, len(rows))
	for i, row := range rows {
		out[i] = domain.UsageRow{Group: row.Group, Requests: row.Requests, Errors: row.Errors, PromptTokens: row.PromptTokens,
			CompletionTokens: row.CompletionTokens, CostUSD: row.CostUSD, AvgLatencyMS: row.AvgLatency, MaxLatencyMS: row.MaxLatency}
	}
	return out, nil
}

// Prices implements ports.ModelPrices.
func (r *LogReader) Prices(ctx context.Context) (map[string][2]float64, error) {
	var rows []struct {
		Key string  `db:"k"`
		In  float64 `db:"input_price_per_mtok"`
		Out float64 `db:"output_price_per_mtok"`
	}
	const q = `SELECT namespace || '.' || name AS k, input_price_per_mtok, output_price_per_mtok FROM models`
	if err := r.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("model prices: %w", translate(err))
	}
	out := make(map[string][2]float64, len(rows))
	for _, row := range rows {
		out[row.Key] = [2]float64{row.In, row.Out}
	}
	return out, nil
}

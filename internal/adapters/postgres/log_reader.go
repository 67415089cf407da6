package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// LogReader queries logs, the hourly roll-ups and model prices.
type LogReader struct{ db *sqlx.DB }

var (
	_ ports.LogReader   = (*LogReader)(nil)
	_ ports.ModelPrices = (*LogReader)(nil)
	_ ports.KeyOwners   = (*LogReader)(nil)
)

// KeyMasters implements ports.KeyOwners.
func (r *LogReader) KeyMasters(ctx context.Context, ids []int64) (map[int64]int64, error) {
	const q = `SELECT id, master_id FROM keys WHERE id = ANY($1)`
	rows, err := r.db.QueryContext(ctx, q, pq.Array(ids))
	if err != nil {
		return nil, translate(fmt.Errorf("key owners: %w", err))
	}
	defer rows.Close()
	out := make(map[int64]int64, len(ids))
	for rows.Next() {
		var id, master int64
		if err := rows.Scan(&id, &master); err != nil {
			return nil, translate(fmt.Errorf("key owners: %w", err))
		}
		out[id] = master
	}
	if err := rows.Err(); err != nil {
		return nil, translate(fmt.Errorf("key owners: %w", err))
	}
	return out, nil
}

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
	if err := listPage(ctx, r.db, true, &rows, q, args...); err != nil {
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

// usageGroup is, per grouping, the roll-up column (or expression) rows are
// grouped on, and how a group is written out. Rows are grouped on the
// column's own type and only the groups are formatted: hashing a bigint or
// a timestamp is several times cheaper than building and hashing a text
// for each of the thousands of roll-up rows a range reads.
var usageGroup = map[domain.UsageGroup]struct{ col, format string }{
	domain.GroupByModel:    {"model", "g"},
	domain.GroupByKey:      {"key_id", "g::text"},
	domain.GroupByMaster:   {"master_id", "g::text"},
	domain.GroupByProvider: {"provider_id", "g::text"},
	domain.GroupByHour:     {"hour", `to_char(g AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:00:00"Z"')`},
	domain.GroupByDay:      {"date_trunc('day', hour, 'UTC')", `to_char(g AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"00:00:00"Z"')`},
}

// usageMeasures are the roll-ups' measure columns.
const usageMeasures = `requests, errors, prompt_tokens, completion_tokens, cost_usd, latency_sum, latency_max`

// usageTotals sums the measures of the rows of s by g, saturating; the
// first verb is how a group is written out.
const usageTotals = `SELECT %s AS grp, LEAST(sum(requests), 9223372036854775807)::bigint AS requests,
  LEAST(sum(errors), 9223372036854775807)::bigint AS errors,
  LEAST(sum(prompt_tokens), 9223372036854775807)::bigint AS prompt_tokens,
  LEAST(sum(completion_tokens), 9223372036854775807)::bigint AS completion_tokens, sum(cost_usd) AS cost_usd,
  CASE WHEN sum(requests) > 0 THEN sum(latency_sum)::double precision / sum(requests) ELSE 0 END AS avg_latency,
  max(latency_max) AS max_latency
FROM (%s) s GROUP BY g ORDER BY grp`

// usageSpan splits the hours that start in [from, to) into whole UTC days
// [d0, d1) and the hours around them, [h0, d0) and [d1, h1).
func usageSpan(from, to time.Time) (h0, d0, d1, h1 time.Time) {
	h0 = from.UTC().Truncate(time.Hour)
	h1 = to.UTC().Truncate(time.Hour)
	if h1.Before(to) {
		h1 = h1.Add(time.Hour) // an hour that starts before to counts
	}
	d0 = h0.Truncate(24 * time.Hour)
	if d0.Before(h0) {
		d0 = d0.Add(24 * time.Hour)
	}
	d1 = h1.Truncate(24 * time.Hour)
	if !d0.Before(d1) {
		d0, d1 = h1, h1 // no whole day: everything from the hourly roll-ups
	}
	return h0, d0, d1, h1
}

// usageBlocks are the bucket lengths usage_key keeps, in hours, longest
// first; each divides the one before it.
var usageBlocks = []int{24, 6, 1}

// hourSpan is the hours that start in [from, to).
type hourSpan struct{ from, to time.Time }

// usageCover covers the hour-aligned [h0, h1) with the fewest whole
// UTC-aligned blocks of usageBlocks: the longest blocks in the middle, then
// shorter ones towards either end. It returns, per length, the spans of
// bucket starts to read: one for the longest, at most two for the others
// (so a 7-day range takes at most 6 days, 6 six-hour blocks and 10 hours,
// and at most 15 blocks when it starts and ends on the hour).
func usageCover(h0, h1 time.Time) map[int][]hourSpan {
	out := map[int][]hourSpan{}
	var cover func(lo, hi time.Time, level int)
	cover = func(lo, hi time.Time, level int) {
		if !lo.Before(hi) {
			return
		}
		w := time.Duration(usageBlocks[level]) * time.Hour
		if level == len(usageBlocks)-1 {
			out[usageBlocks[level]] = append(out[usageBlocks[level]], hourSpan{lo, hi})
			return
		}
		a, b := lo.Truncate(w), hi.Truncate(w) // Truncate counts from a UTC midnight
		if a.Before(lo) {
			a = a.Add(w)
		}
		if !a.Before(b) {
			cover(lo, hi, level+1)
			return
		}
		out[usageBlocks[level]] = append(out[usageBlocks[level]], hourSpan{a, b})
		cover(lo, a, level+1)
		cover(b, hi, level+1)
	}
	cover(h0, h1, 0)
	return out
}

// Usage implements ports.LogReader from the roll-ups (hours that start in
// [from, to)): by hour, day and master from the per-master hourly totals;
// by key from usage_key's whole days, 6-hour blocks and hours (usageCover);
// by model and provider from the daily roll-ups for whole days and the
// per-model hourly ones for the hours at either end. The rows read grow
// with groups × buckets, never with the number of logged rows.
func (r *LogReader) Usage(ctx context.Context, from, to time.Time, group domain.UsageGroup, masterID *int64) ([]domain.UsageRow, error) {
	grouping, ok := usageGroup[group]
	if !ok {
		return nil, domain.NewValidationError("group_by", "unknown grouping")
	}
	h0, d0, d1, h1 := usageSpan(from, to)
	var inner string
	args := []any{h0, d0, d1, h1, masterID}
	switch group {
	case domain.GroupByHour, domain.GroupByDay, domain.GroupByMaster:
		inner = `SELECT ` + grouping.col + ` AS g, ` + usageMeasures + ` FROM usage_hourly_master
  WHERE hour >= $1 AND hour < $2 AND ($3::bigint IS NULL OR master_id = $3)`
		args = []any{h0, h1, masterID}
	case domain.GroupByKey:
		args = []any{masterID}
		var spans []string
		cover := usageCover(h0, h1)
		for _, hours := range usageBlocks {
			for _, s := range cover[hours] {
				args = append(args, s.from, s.to)
				spans = append(spans, fmt.Sprintf("(hours = %d AND bucket >= $%d AND bucket < $%d)", hours, len(args)-1, len(args)))
			}
		}
		if len(spans) == 0 {
			spans = []string{"false"}
		}
		inner = `SELECT key_id AS g, ` + usageMeasures + ` FROM usage_key
  WHERE (` + strings.Join(spans, " OR ") + `) AND ($1::bigint IS NULL OR master_id = $1)`
	default:
		inner = `SELECT ` + grouping.col + ` AS g, ` + usageMeasures + ` FROM usage_daily
  WHERE day >= $2 AND day < $3 AND ($5::bigint IS NULL OR master_id = $5)
UNION ALL
SELECT ` + grouping.col + ` AS g, ` + usageMeasures + ` FROM usage_hourly_model
  WHERE ((hour >= $1 AND hour < $2) OR (hour >= $3 AND hour < $4)) AND ($5::bigint IS NULL OR master_id = $5)`
	}
	q := fmt.Sprintf(usageTotals, grouping.format, inner)
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
	if err := r.db.SelectContext(ctx, &rows, q, args...); err != nil {
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

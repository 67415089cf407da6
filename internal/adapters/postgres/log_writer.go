package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// LogWriter writes log batches with COPY into a staging table and one
// INSERT … SELECT … ON CONFLICT DO NOTHING, so a retried batch is counted as
// duplicates, never stored twice.
type LogWriter struct {
	db       *sqlx.DB
	recorder *ChangeRecorder
	audit    *AuditRepository
	notifier ports.ChangeNotifier
}

var _ ports.LogWriter = (*LogWriter)(nil)

// NewLogWriter builds the writer; notifier hears when a key turned exhausted.
func NewLogWriter(db *sqlx.DB, notifier ports.ChangeNotifier) *LogWriter {
	return &LogWriter{db: db, recorder: NewChangeRecorder(db), audit: NewAuditRepository(db), notifier: notifier}
}

var logColumns = []string{"created_at", "request_id", "key_id", "master_id", "namespace", "model", "provider_id",
	"upstream_model", "status_code", "latency_ms", "ttft_ms", "prompt_tokens", "completion_tokens", "cached_tokens",
	"cost_usd", "stream", "client_ip", "error", "balancer_id"}

// copyStaging is lib/pq's COPY … FROM STDIN, run through a prepared statement.
var copyStaging = `COPY logs_staging (` + strings.Join(logColumns, ", ") + `) FROM STDIN`

const createStaging = `CREATE TEMP TABLE IF NOT EXISTS logs_staging (
  created_at timestamptz NOT NULL, request_id text NOT NULL, key_id bigint, master_id bigint, namespace text NOT NULL,
  model text NOT NULL, provider_id bigint, upstream_model text NOT NULL, status_code integer NOT NULL,
  latency_ms integer NOT NULL, ttft_ms integer NOT NULL, prompt_tokens bigint NOT NULL, completion_tokens bigint NOT NULL,
  cached_tokens bigint NOT NULL, cost_usd double precision NOT NULL, stream boolean NOT NULL, client_ip text NOT NULL,
  error text NOT NULL, balancer_id text NOT NULL
) ON COMMIT DELETE ROWS`

// maxBigint is where roll-up and usage sums saturate: a record may carry
// any int64 token count, and no sum of them may make a write fail.
const maxBigint = "9223372036854775807"

// satSum is a saturating sum of bigints over a group (sum of bigint is numeric).
func satSum(col string) string { return "LEAST(sum(" + col + "), " + maxBigint + ")::bigint" }

// satAdd adds two bigints, saturating.
func satAdd(a, b string) string {
	return "LEAST(" + a + "::numeric + " + b + ", " + maxBigint + ")::bigint"
}

// rollup is one roll-up kept from the inserted rows: its table, bucket
// column and expression, the bucket's length in UTC-aligned hours, and the
// dimensions it keeps. A table that keeps several bucket lengths (levels)
// tells them apart by its "hours" column, part of its primary key.
type rollup struct {
	table, bucket, bucketExpr string
	hours                     int
	level                     bool
	dims, dimExprs            []string
}

// keyDims are usage_key's dimensions.
var keyDims, keyDimExprs = []string{"key_id", "master_id"}, []string{"coalesce(key_id, 0)", "coalesce(master_id, 0)"}

// rollups are every roll-up GET /stats/usage reads (see LogReader.Usage).
var rollups = []rollup{
	{"usage_daily", "day", "date_trunc('day', created_at, 'UTC')", 24, false,
		[]string{"key_id", "master_id", "model", "provider_id"},
		[]string{"coalesce(key_id, 0)", "coalesce(master_id, 0)", "model", "coalesce(provider_id, 0)"}},
	{"usage_hourly_master", "hour", "date_trunc('hour', created_at, 'UTC')", 1, false,
		[]string{"master_id"}, []string{"coalesce(master_id, 0)"}},
	{"usage_hourly_model", "hour", "date_trunc('hour', created_at, 'UTC')", 1, false,
		[]string{"master_id", "model", "provider_id"}, []string{"coalesce(master_id, 0)", "model", "coalesce(provider_id, 0)"}},
	{"usage_key", "bucket", "date_trunc('hour', created_at, 'UTC')", 1, true, keyDims, keyDimExprs},
	{"usage_key", "bucket", "to_timestamp(floor(extract(epoch FROM created_at) / 21600) * 21600)", 6, true, keyDims, keyDimExprs},
	{"usage_key", "bucket", "date_trunc('day', created_at, 'UTC')", 24, true, keyDims, keyDimExprs},
}

// keyCols are the columns that identify a row of r, in its primary key's order.
func (r rollup) keyCols() []string {
	cols := append([]string{r.bucket}, r.dims...)
	if r.level {
		cols = append([]string{"hours"}, cols...)
	}
	return cols
}

// levelExpr is what r stores in its "hours" column, as the first of the
// selected values (empty for a table with one bucket length).
func (r rollup) levelExpr() string {
	if !r.level {
		return ""
	}
	return strconv.Itoa(r.hours) + "::smallint, "
}

// upsert is the CTE body that adds the inserted rows (ins) to r.
func (r rollup) upsert() string {
	keys := r.keyCols()
	groups := make([]string, 1+len(r.dims))
	for i := range groups {
		groups[i] = strconv.Itoa(i + 1)
		if r.level {
			groups[i] = strconv.Itoa(i + 2) // the level is a constant
		}
	}
	return `INSERT INTO ` + r.table + ` AS u (` + strings.Join(keys, ", ") + `, requests, errors, prompt_tokens,
    completion_tokens, cost_usd, latency_sum, latency_max)
  SELECT ` + r.levelExpr() + r.bucketExpr + `, ` + strings.Join(r.dimExprs, ", ") + `,
         count(*), count(*) FILTER (WHERE status_code >= 400), ` + satSum("prompt_tokens") + `, ` + satSum("completion_tokens") + `,
         sum(cost_usd), ` + satSum("latency_ms") + `, max(latency_ms)
  FROM ins GROUP BY ` + strings.Join(groups, ", ") + `
  ON CONFLICT (` + strings.Join(keys, ", ") + `) DO UPDATE SET` + rollupSet
}

// insertFromStaging moves new rows into logs and, from exactly those rows,
// the roll-ups and the keys' usage; it returns the inserted identities. All
// sums saturate at the bigint maximum (costs are bounded per record), so no
// record can make this statement overflow.
var insertFromStaging = func() string {
	var b strings.Builder
	b.WriteString(`WITH ins AS (
  INSERT INTO logs (` + strings.Join(logColumns, ", ") + `)
  SELECT ` + strings.Join(logColumns, ", ") + ` FROM logs_staging
  ON CONFLICT (created_at, request_id) DO NOTHING
  RETURNING created_at, request_id, key_id, master_id, model, provider_id, status_code, latency_ms,
            prompt_tokens, completion_tokens, cost_usd
)`)
	for i, r := range rollups {
		fmt.Fprintf(&b, ", roll%d AS (\n  %s\n)", i, r.upsert())
	}
	b.WriteString(`, used AS (
  UPDATE keys k SET used_tokens = ` + satAdd("k.used_tokens", "a.tokens") + `, used_usd = k.used_usd + a.cost
  FROM (SELECT key_id, LEAST(sum(prompt_tokens::numeric + completion_tokens), ` + maxBigint + `) AS tokens, sum(cost_usd) AS cost
        FROM ins WHERE key_id IS NOT NULL GROUP BY key_id) a
  WHERE k.id = a.key_id
  RETURNING k.id
)
SELECT created_at, request_id, NULL::bigint[] AS touched FROM ins
UNION ALL SELECT NULL, NULL, (SELECT coalesce(array_agg(id), '{}') FROM used)`)
	return b.String()
}()

type identity struct {
	at time.Time
	id string
}

// Write implements ports.LogWriter. The batch is written under a
// savepoint; when PostgreSQL refuses it for a reason other than a lost
// connection, the writer rolls back to the savepoint and writes each half
// on its own, down to single records, which it quarantines in log_rejects
// with PostgreSQL's reason. One bad record costs about 2·log2(batch)
// statements; the rest of the batch commits. A lost connection fails the
// whole call (domain.ErrUnavailable): nothing was written, retrying is safe.
func (w *LogWriter) Write(ctx context.Context, records []domain.LogRecord) ([]ports.WriteOutcome, error) {
	out := make([]ports.WriteOutcome, len(records))
	var exhausted []int64
	err := NewTxRunner(w.db).InTx(ctx, func(ctx context.Context) error {
		tx := ctx.Value(txKey{}).(*sqlx.Tx)
		// PostgreSQL refuses NUL in text: quarantine those up front.
		clean := make([]int, 0, len(records))
		for i, r := range records {
			if hasNUL(r) {
				out[i] = ports.Quarantined
				if err := w.quarantine(ctx, tx, r, "text contains a NUL byte"); err != nil {
					return err
				}
				continue
			}
			clean = append(clean, i)
		}
		touched, err := w.isolate(ctx, tx, records, clean, out)
		if err != nil {
			return err
		}
		exhausted, err = w.exhaust(ctx, tx, touched)
		return err
	})
	if err != nil {
		return nil, classify(err)
	}
	if len(exhausted) > 0 && w.notifier != nil {
		w.notifier.Notify()
	}
	return out, nil
}

// isolate writes records[idx] under a savepoint, splitting the group in
// halves while PostgreSQL refuses it for a data reason, and quarantining a
// single record it refuses.
func (w *LogWriter) isolate(ctx context.Context, tx *sqlx.Tx, records []domain.LogRecord, idx []int, out []ports.WriteOutcome) ([]int64, error) {
	if len(idx) == 0 {
		return nil, nil
	}
	if _, err := tx.ExecContext(ctx, `SAVEPOINT log_part`); err != nil {
		return nil, classify(err)
	}
	touched, err := w.writeSome(ctx, tx, records, idx, out)
	if err == nil {
		if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT log_part`); err != nil {
			return nil, classify(err)
		}
		return touched, nil
	}
	if isTransient(err) {
		return nil, classify(err)
	}
	if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT log_part`); rerr != nil {
		return nil, classify(rerr)
	}
	if _, rerr := tx.ExecContext(ctx, `RELEASE SAVEPOINT log_part`); rerr != nil {
		return nil, classify(rerr)
	}
	if len(idx) == 1 {
		out[idx[0]] = ports.Quarantined
		return nil, w.quarantine(ctx, tx, records[idx[0]], refusal(err))
	}
	mid := len(idx) / 2
	first, err := w.isolate(ctx, tx, records, idx[:mid], out)
	if err != nil {
		return nil, err
	}
	second, err := w.isolate(ctx, tx, records, idx[mid:], out)
	if err != nil {
		return nil, err
	}
	return append(first, second...), nil
}

// refusal is the reason kept with a quarantined record.
func refusal(err error) string {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return fmt.Sprintf("%s (SQLSTATE %s)", pqErr.Message, pqErr.Code)
	}
	return err.Error()
}

// connectionLost tells that the database could not be reached or the
// connection broke: nothing about the batch is known to be wrong.
func connectionLost(err error) bool {
	if errors.Is(err, domain.ErrUnavailable) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Code.Class() == "08" || pqErr.Code == "57P01" || pqErr.Code == "57P02" || pqErr.Code == "57P03"
	}
	return false
}

// isTransient tells a failure of the connection or of the server's state
// (the same batch may succeed later) from PostgreSQL refusing the data.
func isTransient(err error) bool {
	if connectionLost(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code.Class() {
		case "40", "53", "57", "58": // rollback (serialization, deadlock), resources, operator intervention, system
			return true
		}
		return pqErr.Code == "55P03" || pqErr.Code == "25P02" // lock not available; a failed transaction
	}
	return false
}

// classify marks a lost connection domain.ErrUnavailable (the sink retries
// it for as long as it takes) and translates the rest (the sink retries
// those a bounded number of times).
func classify(err error) error {
	if err == nil || errors.Is(err, domain.ErrUnavailable) {
		return err
	}
	if connectionLost(err) {
		return fmt.Errorf("database: %w: %v", domain.ErrUnavailable, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return translate(err)
}

// Quarantine implements ports.LogWriter: it keeps records in log_rejects
// with the reason, in one transaction.
func (w *LogWriter) Quarantine(ctx context.Context, records []domain.LogRecord, reason string) error {
	return classify(NewTxRunner(w.db).InTx(ctx, func(ctx context.Context) error {
		tx := ctx.Value(txKey{}).(*sqlx.Tx)
		for _, r := range records {
			if err := w.quarantine(ctx, tx, r, reason); err != nil {
				return err
			}
		}
		return nil
	}))
}

// writeSome writes records[idx], setting out per record. The common case,
// a batch none of whose identities is stored yet, is copied straight into
// logs and its roll-ups and key usage are summed here and written with one
// statement. When PostgreSQL reports an identity already stored (a retried
// batch, or the same records from two writers at once), that attempt is
// rolled back and the batch goes through the staging table with ON
// CONFLICT DO NOTHING, which tells inserted records from duplicates.
func (w *LogWriter) writeSome(ctx context.Context, tx *sqlx.Tx, records []domain.LogRecord, idx []int, out []ports.WriteOutcome) ([]int64, error) {
	if len(idx) == 0 {
		return nil, nil
	}
	// Within the batch, the first record of an identity is the one stored.
	first := make([]int, 0, len(idx))
	seen := make(map[identity]struct{}, len(idx))
	for _, i := range idx {
		k := identity{records[i].CreatedAt.UTC().Truncate(time.Microsecond), records[i].RequestID}
		if _, dup := seen[k]; dup {
			continue
		}
		seen[k] = struct{}{}
		first = append(first, i)
	}
	if _, err := tx.ExecContext(ctx, `SAVEPOINT log_direct`); err != nil {
		return nil, classify(err)
	}
	err := copyRecords(ctx, tx, copyLogs, records, first)
	if err == nil {
		if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT log_direct`); err != nil {
			return nil, classify(err)
		}
		for _, i := range idx {
			out[i] = ports.Duplicate
		}
		for _, i := range first {
			out[i] = ports.Inserted
		}
		return w.account(ctx, tx, records, first)
	}
	if isTransient(err) {
		return nil, err
	}
	if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT log_direct`); rerr != nil {
		return nil, classify(rerr)
	}
	if _, rerr := tx.ExecContext(ctx, `RELEASE SAVEPOINT log_direct`); rerr != nil {
		return nil, classify(rerr)
	}
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "23505" {
		return nil, err // PostgreSQL refused the data: the caller splits the batch
	}
	return w.writeStaged(ctx, tx, records, idx, out)
}

// copyLogs is lib/pq's COPY … FROM STDIN straight into logs.
var copyLogs = `COPY logs (` + strings.Join(logColumns, ", ") + `) FROM STDIN`

// copyRecords runs the COPY statement copy over records[idx].
func copyRecords(ctx context.Context, tx *sqlx.Tx, copy string, records []domain.LogRecord, idx []int) error {
	stmt, err := tx.PrepareContext(ctx, copy)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	for _, i := range idx {
		r := records[i]
		if _, err := stmt.ExecContext(ctx, r.CreatedAt, r.RequestID, r.KeyID, r.MasterID, r.Namespace, r.Model, r.ProviderID,
			r.UpstreamModel, r.StatusCode, r.LatencyMS, r.TTFTMS, r.PromptTokens, r.CompletionTokens, r.CachedTokens,
			*r.CostUSD, r.Stream, r.ClientIP, r.Error, r.BalancerID); err != nil {
			_ = stmt.Close()
			return fmt.Errorf("copy: %w", err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		_ = stmt.Close()
		return fmt.Errorf("copy: %w", err)
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	return nil
}

// writeStaged copies records[idx] into the staging table and inserts them
// with ON CONFLICT DO NOTHING, setting out per record.
func (w *LogWriter) writeStaged(ctx context.Context, tx *sqlx.Tx, records []domain.LogRecord, idx []int, out []ports.WriteOutcome) ([]int64, error) {
	if _, err := tx.ExecContext(ctx, createStaging); err != nil {
		return nil, fmt.Errorf("staging table: %w", err)
	}
	if err := copyRecords(ctx, tx, copyStaging, records, idx); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, insertFromStaging)
	if err != nil {
		return nil, fmt.Errorf("insert logs: %w", err)
	}
	defer rows.Close()
	inserted := map[identity]bool{}
	// One row per inserted record, and one more (without an identity)
	// carrying the keys whose usage changed.
	var touched pq.Int64Array
	for rows.Next() {
		var at sql.NullTime
		var id sql.NullString
		var keys pq.Int64Array
		if err := rows.Scan(&at, &id, &keys); err != nil {
			return nil, fmt.Errorf("insert logs: %w", err)
		}
		if at.Valid {
			inserted[identity{at.Time.UTC(), id.String}] = true
		} else {
			touched = keys
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert logs: %w", err)
	}
	// The first record of an identity is the one stored; the rest are duplicates.
	for _, i := range idx {
		k := identity{records[i].CreatedAt.UTC(), records[i].RequestID}
		if inserted[k] {
			out[i] = ports.Inserted
			delete(inserted, k)
		} else {
			out[i] = ports.Duplicate
		}
	}
	return touched, nil
}

func (w *LogWriter) quarantine(ctx context.Context, tx *sqlx.Tx, r domain.LogRecord, reason string) error {
	b, err := json.Marshal(r) // JSON escapes NUL as \u0000, which text accepts
	if err != nil {
		return err
	}
	const q = `INSERT INTO log_rejects (request_id, reason, record) VALUES ($1, $2, $3)`
	if _, err := tx.ExecContext(ctx, q, strings.ReplaceAll(r.RequestID, "\x00", `\u0000`), reason, string(b)); err != nil {
		return translate(fmt.Errorf("quarantine log: %w", err))
	}
	return nil
}

// exhaust turns keys over their quota or budget exhausted, recording each
// for the snapshot and the audit log in the same transaction.
func (w *LogWriter) exhaust(ctx context.Context, tx *sqlx.Tx, touched []int64) ([]int64, error) {
	if len(touched) == 0 {
		return nil, nil
	}
	const q = `UPDATE keys SET status = 'exhausted', updated_at = now()
WHERE id = ANY($1) AND status = 'active'
  AND ((quota_tokens IS NOT NULL AND used_tokens >= quota_tokens) OR (budget_usd IS NOT NULL AND used_usd >= budget_usd))
RETURNING id`
	var ids []int64
	if err := tx.SelectContext(ctx, &ids, q, pq.Array(touched)); err != nil {
		return nil, translate(fmt.Errorf("exhaust keys: %w", err))
	}
	for _, id := range ids {
		seq, err := w.recorder.Record(ctx, domain.SectionKeys, strconv.FormatInt(id, 10), domain.OpUpsert)
		if err != nil {
			return nil, err
		}
		e := domain.NewAuditEntry(ctx, time.Now(), "key.exhausted", "key", strconv.FormatInt(id, 10),
			map[string]any{"change_seq": seq, "reason": "quota or budget used up"})
		if err := w.audit.Record(ctx, e); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func hasNUL(r domain.LogRecord) bool {
	for _, v := range []string{r.RequestID, r.Namespace, r.Model, r.UpstreamModel, r.ClientIP, r.Error, r.BalancerID} {
		if strings.IndexByte(v, 0) >= 0 {
			return true
		}
	}
	return false
}

package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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

// insertFromStaging moves new rows into logs and, from exactly those rows,
// the hourly roll-ups and the keys' usage; it returns the inserted identities.
var insertFromStaging = `WITH ins AS (
  INSERT INTO logs (` + strings.Join(logColumns, ", ") + `)
  SELECT ` + strings.Join(logColumns, ", ") + ` FROM logs_staging
  ON CONFLICT (created_at, request_id) DO NOTHING
  RETURNING created_at, request_id, key_id, master_id, model, provider_id, status_code, latency_ms,
            prompt_tokens, completion_tokens, cost_usd
), roll AS (
  INSERT INTO usage_hourly AS u (hour, key_id, master_id, model, provider_id, requests, errors, prompt_tokens,
    completion_tokens, cost_usd, latency_sum, latency_max)
  SELECT date_trunc('hour', created_at, 'UTC'), coalesce(key_id, 0), coalesce(master_id, 0), model, coalesce(provider_id, 0),
         count(*), count(*) FILTER (WHERE status_code >= 400), sum(prompt_tokens), sum(completion_tokens), sum(cost_usd),
         sum(latency_ms), max(latency_ms)
  FROM ins GROUP BY 1, 2, 3, 4, 5
  ON CONFLICT (hour, key_id, master_id, model, provider_id) DO UPDATE SET
    requests = u.requests + EXCLUDED.requests, errors = u.errors + EXCLUDED.errors,
    prompt_tokens = u.prompt_tokens + EXCLUDED.prompt_tokens, completion_tokens = u.completion_tokens + EXCLUDED.completion_tokens,
    cost_usd = u.cost_usd + EXCLUDED.cost_usd, latency_sum = u.latency_sum + EXCLUDED.latency_sum,
    latency_max = GREATEST(u.latency_max, EXCLUDED.latency_max)
), used AS (
  UPDATE keys k SET used_tokens = k.used_tokens + a.tokens, used_usd = k.used_usd + a.cost
  FROM (SELECT key_id, sum(prompt_tokens + completion_tokens) AS tokens, sum(cost_usd) AS cost
        FROM ins WHERE key_id IS NOT NULL GROUP BY key_id) a
  WHERE k.id = a.key_id
  RETURNING k.id
)
SELECT created_at, request_id, (SELECT coalesce(array_agg(id), '{}') FROM used) AS touched FROM ins
UNION ALL SELECT NULL, NULL, (SELECT coalesce(array_agg(id), '{}') FROM used) WHERE NOT EXISTS (SELECT 1 FROM ins)`

type identity struct {
	at time.Time
	id string
}

// Write implements ports.LogWriter.
func (w *LogWriter) Write(ctx context.Context, records []domain.LogRecord) ([]ports.WriteOutcome, error) {
	out := make([]ports.WriteOutcome, len(records))
	var exhausted []int64
	err := NewTxRunner(w.db).InTx(ctx, func(ctx context.Context) error {
		tx := ctx.Value(txKey{}).(*sqlx.Tx)
		if _, err := tx.ExecContext(ctx, createStaging); err != nil {
			return translate(fmt.Errorf("staging table: %w", err))
		}
		// PostgreSQL refuses NUL in text: quarantine those up front.
		var clean []int
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
		touched, err := w.writeSome(ctx, tx, records, clean, out)
		var pqErr *pq.Error
		if err != nil && errors.As(err, &pqErr) && strings.HasPrefix(string(pqErr.Code), "22") {
			// Some record is refused for another data reason: write one by one
			// under savepoints and quarantine the ones PostgreSQL refuses.
			touched, err = w.writeOneByOne(ctx, tx, records, clean, out)
		}
		if err != nil {
			return err
		}
		exhausted, err = w.exhaust(ctx, tx, touched)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(exhausted) > 0 && w.notifier != nil {
		w.notifier.Notify()
	}
	return out, nil
}

// writeSome copies records[idx] and inserts them, setting out per record.
func (w *LogWriter) writeSome(ctx context.Context, tx *sqlx.Tx, records []domain.LogRecord, idx []int, out []ports.WriteOutcome) ([]int64, error) {
	if len(idx) == 0 {
		return nil, nil
	}
	stmt, err := tx.PrepareContext(ctx, copyStaging)
	if err != nil {
		return nil, translate(fmt.Errorf("copy: %w", err))
	}
	for _, i := range idx {
		r := records[i]
		if _, err := stmt.ExecContext(ctx, r.CreatedAt, r.RequestID, r.KeyID, r.MasterID, r.Namespace, r.Model, r.ProviderID,
			r.UpstreamModel, r.StatusCode, r.LatencyMS, r.TTFTMS, r.PromptTokens, r.CompletionTokens, r.CachedTokens,
			*r.CostUSD, r.Stream, r.ClientIP, r.Error, r.BalancerID); err != nil {
			_ = stmt.Close()
			return nil, translate(fmt.Errorf("copy: %w", err))
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		_ = stmt.Close()
		return nil, errOrTranslate(fmt.Errorf("copy: %w", err))
	}
	if err := stmt.Close(); err != nil {
		return nil, errOrTranslate(fmt.Errorf("copy: %w", err))
	}
	rows, err := tx.QueryContext(ctx, insertFromStaging)
	if err != nil {
		return nil, errOrTranslate(fmt.Errorf("insert logs: %w", err))
	}
	defer rows.Close()
	inserted := map[identity]bool{}
	var touched pq.Int64Array
	for rows.Next() {
		var at sql.NullTime
		var id sql.NullString
		if err := rows.Scan(&at, &id, &touched); err != nil {
			return nil, translate(fmt.Errorf("insert logs: %w", err))
		}
		if at.Valid {
			inserted[identity{at.Time.UTC(), id.String}] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, errOrTranslate(fmt.Errorf("insert logs: %w", err))
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

// errOrTranslate keeps data errors (class 22) recognisable for the
// one-by-one fallback and translates the rest.
func errOrTranslate(err error) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && strings.HasPrefix(string(pqErr.Code), "22") {
		return err
	}
	return translate(err)
}

func (w *LogWriter) writeOneByOne(ctx context.Context, tx *sqlx.Tx, records []domain.LogRecord, idx []int, out []ports.WriteOutcome) ([]int64, error) {
	var touched []int64
	for _, i := range idx {
		if _, err := tx.ExecContext(ctx, `SAVEPOINT one_log`); err != nil {
			return nil, translate(err)
		}
		t, err := w.writeSome(ctx, tx, records, []int{i}, out)
		if err != nil {
			if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT one_log`); rerr != nil {
				return nil, translate(rerr)
			}
			var pqErr *pq.Error
			if !errors.As(err, &pqErr) || !strings.HasPrefix(string(pqErr.Code), "22") {
				return nil, err
			}
			out[i] = ports.Quarantined
			if err := w.quarantine(ctx, tx, records[i], pqErr.Message); err != nil {
				return nil, err
			}
			continue
		}
		if _, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT one_log`); err != nil {
			return nil, translate(err)
		}
		touched = append(touched, t...)
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
		v, err := w.recorder.Record(ctx, domain.SectionKeys, strconv.FormatInt(id, 10), domain.OpUpsert)
		if err != nil {
			return nil, err
		}
		e := domain.NewAuditEntry(ctx, time.Now(), "key.exhausted", "key", strconv.FormatInt(id, 10),
			map[string]any{"config_version": v, "reason": "quota or budget used up"})
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

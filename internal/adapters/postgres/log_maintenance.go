package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// maintenanceLock keeps log maintenance to one replica at a time.
const maintenanceLock = 0x657a61706d61 // "ezapma"

// LogMaintenance creates daily log partitions ahead, drops those past the
// retention, and starts new budget periods.
type LogMaintenance struct {
	db        *sqlx.DB
	ahead     int
	retention int
	logger    *slog.Logger
	recorder  *ChangeRecorder
	audit     *AuditRepository
	notifier  ports.ChangeNotifier
}

var _ ports.LogMaintenance = (*LogMaintenance)(nil)

// NewLogMaintenance builds the job: partitions for aheadDays, retention in days.
func NewLogMaintenance(db *sqlx.DB, aheadDays, retentionDays int, logger *slog.Logger, notifier ports.ChangeNotifier) *LogMaintenance {
	return &LogMaintenance{db: db, ahead: aheadDays, retention: retentionDays, logger: logger,
		recorder: NewChangeRecorder(db), audit: NewAuditRepository(db), notifier: notifier}
}

func partitionName(day time.Time) string { return "logs_" + day.Format("20060102") }

// Maintain implements ports.LogMaintenance.
func (m *LogMaintenance) Maintain(ctx context.Context, now time.Time) error {
	var reactivated []int64
	err := NewTxRunner(m.db).InTx(ctx, func(ctx context.Context) error {
		tx := ctx.Value(txKey{}).(*sqlx.Tx)
		var got bool
		if err := tx.GetContext(ctx, &got, `SELECT pg_try_advisory_xact_lock($1)`, maintenanceLock); err != nil {
			return translate(err)
		}
		if !got {
			return nil // another replica is at it
		}
		today := now.UTC().Truncate(24 * time.Hour)
		for d := -1; d <= m.ahead; d++ {
			day := today.AddDate(0, 0, d)
			q := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF logs FOR VALUES FROM ('%s') TO ('%s')`,
				partitionName(day), day.Format(time.RFC3339), day.AddDate(0, 0, 1).Format(time.RFC3339))
			if _, err := tx.ExecContext(ctx, `SAVEPOINT part`); err != nil {
				return translate(err)
			}
			if _, err := tx.ExecContext(ctx, q); err != nil {
				// Rows for that day already sit in the default partition: leave them there.
				m.logger.Warn("log partition not created", "partition", partitionName(day), "error", err)
				if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT part`); err != nil {
					return translate(err)
				}
			}
		}
		var parts []string
		const qParts = `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'logs' AND c.relname ~ '^logs_[0-9]{8}$'`
		if err := tx.SelectContext(ctx, &parts, qParts); err != nil {
			return translate(err)
		}
		cutoff := partitionName(today.AddDate(0, 0, -m.retention))
		for _, p := range parts {
			if p < cutoff {
				if _, err := tx.ExecContext(ctx, `DROP TABLE `+p); err != nil {
					return translate(fmt.Errorf("drop %s: %w", p, err))
				}
				m.logger.Info("dropped log partition past retention", "partition", p)
			}
		}
		var err error
		reactivated, err = m.newBudgetPeriods(ctx, tx, now.UTC())
		return err
	})
	if err == nil && len(reactivated) > 0 && m.notifier != nil {
		m.notifier.Notify()
	}
	return err
}

// newBudgetPeriods resets the USD usage of keys whose budget period (UTC day
// or month) rolled over, and makes keys exhausted only by that budget active.
func (m *LogMaintenance) newBudgetPeriods(ctx context.Context, tx *sqlx.Tx, now time.Time) ([]int64, error) {
	const q = `WITH due AS (
  SELECT id, status, CASE budget_period WHEN 'daily' THEN date_trunc('day', $1::timestamptz, 'UTC')
                                      ELSE date_trunc('month', $1::timestamptz, 'UTC') END AS start
  FROM keys WHERE budget_period IN ('daily', 'monthly') AND status <> 'revoked'
)
UPDATE keys k SET used_usd = 0, period_start = due.start,
  status = CASE WHEN k.status = 'exhausted' AND (k.quota_tokens IS NULL OR k.used_tokens < k.quota_tokens) THEN 'active' ELSE k.status END,
  updated_at = CASE WHEN k.status = 'exhausted' THEN $1 ELSE k.updated_at END
FROM due WHERE k.id = due.id AND (k.period_start IS NULL OR k.period_start < due.start)
RETURNING k.id, (due.status = 'exhausted' AND k.status = 'active') AS reactivated`
	var rows []struct {
		ID          int64 `db:"id"`
		Reactivated bool  `db:"reactivated"`
	}
	if err := tx.SelectContext(ctx, &rows, q, now); err != nil {
		return nil, translate(fmt.Errorf("budget periods: %w", err))
	}
	var ids []int64
	for _, r := range rows {
		if !r.Reactivated {
			continue
		}
		id := strconv.FormatInt(r.ID, 10)
		seq, err := m.recorder.Record(ctx, domain.SectionKeys, id, domain.OpUpsert)
		if err != nil {
			return nil, err
		}
		if err := m.audit.Record(ctx, domain.NewAuditEntry(ctx, now, "key.reactivated", "key", id,
			map[string]any{"change_seq": seq, "reason": "new budget period"})); err != nil {
			return nil, err
		}
		ids = append(ids, r.ID)
	}
	return ids, nil
}

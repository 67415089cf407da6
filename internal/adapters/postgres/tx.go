package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

type txKey struct{}

// TxRunner runs use-case work in one transaction carried by the context.
type TxRunner struct{ db *sqlx.DB }

var _ ports.TxRunner = (*TxRunner)(nil)

// NewTxRunner builds a transaction runner over the pool.
func NewTxRunner(db *sqlx.DB) *TxRunner { return &TxRunner{db: db} }

// InTx implements ports.TxRunner.
func (r *TxRunner) InTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if _, ok := ctx.Value(txKey{}).(*sqlx.Tx); ok {
		return fn(ctx) // join the outer transaction
	}
	tx, err := r.db.BeginTxx(ctx, nil)
	if err != nil {
		return translate(fmt.Errorf("begin transaction: %w", err))
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(context.WithValue(ctx, txKey{}, tx)); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return translate(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// querier is what repositories run statements on: the context's
// transaction, or the pool.
type querier interface {
	sqlx.ExtContext
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
	NamedExecContext(ctx context.Context, query string, arg any) (sql.Result, error)
}

func conn(ctx context.Context, db *sqlx.DB) querier {
	if tx, ok := ctx.Value(txKey{}).(*sqlx.Tx); ok {
		return tx
	}
	return db
}

// namedGet runs a named query returning one row into dest.
func namedGet(ctx context.Context, q querier, dest any, query string, arg any) error {
	bound, args, err := sqlx.Named(query, arg)
	if err != nil {
		return fmt.Errorf("bind %T: %w", arg, err)
	}
	return q.GetContext(ctx, dest, q.Rebind(bound), args...)
}

// translate turns driver errors into domain sentinels, once, at the edge.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w", domain.ErrNotFound)
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch pqErr.Code {
		case "23505": // unique_violation
			return fmt.Errorf("%s: %w", pqErr.Constraint, domain.ErrConflict)
		case "23503": // foreign_key_violation
			return fmt.Errorf("%s references a missing or in-use row: %w", pqErr.Constraint, domain.ErrConflict)
		case "23514", "22P02", "22001": // check_violation, invalid_text_representation, string_data_right_truncation
			return fmt.Errorf("%s: %w", pqErr.Message, domain.ErrInvalid)
		case "57P01", "57P02", "57P03", "08000", "08003", "08006", "08001", "08004": // shutdown, connection failures
			return fmt.Errorf("database: %w: %v", domain.ErrUnavailable, err)
		}
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || isConnError(err) {
		return fmt.Errorf("database: %w: %v", domain.ErrUnavailable, err)
	}
	return err
}

func isConnError(err error) bool {
	var netErr interface{ Timeout() bool }
	return errors.Is(err, sql.ErrConnDone) || errors.As(err, &netErr) || errors.Is(err, pq.ErrSSLNotSupported)
}

// isUniqueViolation tells a duplicate (as translated) from other conflicts.
func isUniqueViolation(err error) bool {
	return errors.Is(err, domain.ErrConflict) && !strings.Contains(err.Error(), "references a missing or in-use row")
}

// selectPage runs a keyset list query with the planner's sorts and bitmap
// scans turned off for it, so the page is read from an index in order and
// cut at the limit whatever the statistics say. Without fresh statistics
// PostgreSQL guesses that a filter matches a handful of rows, and then a
// bitmap scan and a sort of every matching row look cheaper than reading
// an index in order; on a large table that sort is the whole filtered
// table for every page. Outside a transaction it takes a short read-only
// one; inside one it restores the settings afterwards.
func selectPage(ctx context.Context, db *sqlx.DB, dest any, query string, args ...any) error {
	const off = `SET LOCAL enable_sort = off; SET LOCAL enable_incremental_sort = off; SET LOCAL enable_bitmapscan = off`
	if tx, ok := ctx.Value(txKey{}).(*sqlx.Tx); ok {
		if _, err := tx.ExecContext(ctx, off); err != nil {
			return err
		}
		err := tx.SelectContext(ctx, dest, query, args...)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `RESET enable_sort; RESET enable_incremental_sort; RESET enable_bitmapscan`)
		return err
	}
	tx, err := db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, off); err != nil {
		return err
	}
	if err := tx.SelectContext(ctx, dest, query, args...); err != nil {
		return err
	}
	return tx.Commit()
}

// listPage runs a list query: a filtered one with selectPage, an unfiltered
// one (whose keyset on the primary key PostgreSQL always reads in order)
// as it is.
func listPage(ctx context.Context, db *sqlx.DB, filtered bool, dest any, query string, args ...any) error {
	if filtered {
		return selectPage(ctx, db, dest, query, args...)
	}
	return conn(ctx, db).SelectContext(ctx, dest, query, args...)
}

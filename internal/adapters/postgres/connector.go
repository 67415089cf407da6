package postgres

import (
	"context"
	"database/sql/driver"
	"reflect"
	"time"
)

// CancelGrace is how long a statement may keep running after its context
// is cancelled before the driver is told to cancel it.
//
// lib/pq watches every statement's context in a goroutine; the moment the
// context is done it dials a new connection to send PostgreSQL a
// CancelRequest (PostgreSQL forks a backend to read it) and marks the
// pooled connection bad, so the pool also opens a new session to replace
// it. A client that hangs up while a 1 ms primary-key read is in flight
// therefore costs two new PostgreSQL sessions, although the read would
// have finished almost at once. Delaying the cancellation by a short
// grace lets a statement that is about to finish finish (lib/pq's
// finish function then wins the race and nothing is dialled), while a
// statement that is really long still gets cancelled, only CancelGrace
// later.
const CancelGrace = 100 * time.Millisecond

// graceConnector wraps the driver's connector so every connection delays
// context cancellation by the grace.
type graceConnector struct {
	inner driver.Connector
	grace time.Duration
}

var _ driver.Connector = graceConnector{}

func (c graceConnector) Connect(ctx context.Context) (driver.Conn, error) {
	cn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	if _, ok := cn.(innerConn); !ok {
		return cn, nil // not the driver this was written for: leave it alone
	}
	return &graceConn{Conn: cn, grace: c.grace}, nil
}

func (c graceConnector) Driver() driver.Driver { return c.inner.Driver() }

// innerConn is what lib/pq's connection implements and the wrapper relays.
type innerConn interface {
	driver.Conn
	driver.QueryerContext
	driver.ExecerContext
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.Pinger
	driver.NamedValueChecker
	driver.SessionResetter
	driver.Validator
}

// graceConn relays to the driver's connection, giving each call a context
// whose cancellation lags the caller's by the grace. Statements prepared
// explicitly (COPY) keep the driver's own behaviour.
type graceConn struct {
	driver.Conn
	grace time.Duration
}

var (
	_ driver.QueryerContext     = (*graceConn)(nil)
	_ driver.ExecerContext      = (*graceConn)(nil)
	_ driver.ConnPrepareContext = (*graceConn)(nil)
	_ driver.ConnBeginTx        = (*graceConn)(nil)
	_ driver.Pinger             = (*graceConn)(nil)
	_ driver.NamedValueChecker  = (*graceConn)(nil)
	_ driver.SessionResetter    = (*graceConn)(nil)
	_ driver.Validator          = (*graceConn)(nil)
)

func (c *graceConn) inner() innerConn { return c.Conn.(innerConn) }

// delayed returns a context cancelled grace after ctx is (with ctx's
// cause), and the release to call once the driver is done with it.
func delayed(ctx context.Context, grace time.Duration) (context.Context, func()) {
	if ctx.Done() == nil {
		return ctx, func() {}
	}
	if ctx.Err() != nil {
		return ctx, func() {} // already cancelled: nothing to save
	}
	inner, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		time.AfterFunc(grace, func() { cancel(context.Cause(ctx)) })
	})
	return inner, func() {
		stop()
		cancel(context.Canceled)
	}
}

func (c *graceConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	dctx, release := delayed(ctx, c.grace)
	rows, err := c.inner().QueryContext(dctx, query, args)
	if err != nil {
		release()
		return nil, err
	}
	return &graceRows{Rows: rows, release: release}, nil
}

func (c *graceConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	dctx, release := delayed(ctx, c.grace)
	defer release()
	return c.inner().ExecContext(dctx, query, args)
}

func (c *graceConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner().PrepareContext(ctx, query)
}

func (c *graceConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	dctx, release := delayed(ctx, c.grace)
	tx, err := c.inner().BeginTx(dctx, opts)
	if err != nil {
		release()
		return nil, err
	}
	return &graceTx{Tx: tx, release: release}, nil
}

func (c *graceConn) Ping(ctx context.Context) error { return c.inner().Ping(ctx) }

func (c *graceConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.inner().CheckNamedValue(nv)
}

func (c *graceConn) ResetSession(ctx context.Context) error { return c.inner().ResetSession(ctx) }

func (c *graceConn) IsValid() bool { return c.inner().IsValid() }

// graceTx releases the transaction's delayed context once it ends.
type graceTx struct {
	driver.Tx
	release func()
}

func (t *graceTx) Commit() error {
	defer t.release()
	return t.Tx.Commit()
}

func (t *graceTx) Rollback() error {
	defer t.release()
	return t.Tx.Rollback()
}

// richRows is what lib/pq's rows implement beyond driver.Rows.
type richRows interface {
	driver.Rows
	driver.RowsNextResultSet
	driver.RowsColumnTypeScanType
	driver.RowsColumnTypeDatabaseTypeName
	driver.RowsColumnTypeLength
	driver.RowsColumnTypePrecisionScale
}

// graceRows releases the query's delayed context once the rows close.
type graceRows struct {
	driver.Rows
	release func()
}

var (
	_ driver.RowsNextResultSet              = (*graceRows)(nil)
	_ driver.RowsColumnTypeScanType         = (*graceRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*graceRows)(nil)
	_ driver.RowsColumnTypeLength           = (*graceRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*graceRows)(nil)
)

func (r *graceRows) Close() error {
	defer r.release()
	return r.Rows.Close()
}

func (r *graceRows) rich() richRows { return r.Rows.(richRows) }

func (r *graceRows) HasNextResultSet() bool { return r.rich().HasNextResultSet() }
func (r *graceRows) NextResultSet() error   { return r.rich().NextResultSet() }
func (r *graceRows) ColumnTypeScanType(i int) reflect.Type {
	return r.rich().ColumnTypeScanType(i)
}
func (r *graceRows) ColumnTypeDatabaseTypeName(i int) string {
	return r.rich().ColumnTypeDatabaseTypeName(i)
}
func (r *graceRows) ColumnTypeLength(i int) (int64, bool) { return r.rich().ColumnTypeLength(i) }
func (r *graceRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	return r.rich().ColumnTypePrecisionScale(i)
}

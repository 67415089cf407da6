package integration_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/tests/testenv"
)

// recorder is a connector that remembers the last query and arguments a
// repository sent, so the test can EXPLAIN exactly that statement.
type recorder struct {
	inner *pq.Connector
	mu    sync.Mutex
	query string
	args  []any
	// sets are the planner settings the repository changed for the query
	// (SET LOCAL … sent just before it); pending collects them.
	sets, pending string
}

func (r *recorder) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := r.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, r: r}, nil
}

func (r *recorder) Driver() driver.Driver { return r.inner.Driver() }

func (r *recorder) last() (string, []any, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.query, r.args, r.sets
}

type recordingConn struct {
	driver.Conn
	r *recorder
}

func (c *recordingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	c.r.mu.Lock()
	c.r.query, c.r.args, c.r.sets, c.r.pending = q, vals, c.r.pending, ""
	c.r.mu.Unlock()
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c *recordingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if strings.HasPrefix(q, "SET LOCAL") {
		c.r.mu.Lock()
		c.r.pending = q
		c.r.mu.Unlock()
	}
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c *recordingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

func (c *recordingConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.Conn.(driver.NamedValueChecker).CheckNamedValue(nv)
}

// planNode is one node of EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType  string     `json:"Node Type"`
	Relation  string     `json:"Relation Name"`
	IndexName string     `json:"Index Name"`
	Plans     []planNode `json:"Plans"`
}

func (n planNode) contains(nodeType string) bool {
	if n.NodeType == nodeType {
		return true
	}
	for _, c := range n.Plans {
		if c.contains(nodeType) {
			return true
		}
	}
	return false
}

// unboundedSorts lists the sorts whose input is not already cut to a page.
func (n planNode) unboundedSorts() []string {
	var out []string
	if strings.HasSuffix(n.NodeType, "Sort") && !(len(n.Plans) > 0 && n.Plans[0].contains("Limit")) {
		out = append(out, n.NodeType)
	}
	for _, c := range n.Plans {
		out = append(out, c.unboundedSorts()...)
	}
	return out
}

func (n planNode) readsIndex(index string) bool {
	if strings.HasPrefix(n.NodeType, "Index") && n.IndexName == index {
		return true
	}
	for _, c := range n.Plans {
		if c.readsIndex(index) {
			return true
		}
	}
	return false
}

// Every list page, filtered or not (GET /logs included), reads an index in
// order and sorts (or joins) nothing but the page, on tables PostgreSQL has
// no statistics for and on tables whose statistics are stale.
func TestListPlansWithoutStatistics(t *testing.T) {
	t.Parallel()
	admin, err := sqlx.Open("postgres", testenv.PGAdminDSN())
	require.NoError(t, err)
	defer admin.Close()
	name := fmt.Sprintf("ezapi_t_plans_%d", testenv.RedisDB())
	_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
	_, err = admin.Exec("CREATE DATABASE " + name)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	dsn := testenv.PGAdminDSN() + " dbname=" + name
	cfg, err := app.LoadConfig(append(testenv.Environ(), "EZ_PG_DSN="+dsn))
	require.NoError(t, err)
	m, cleanup, err := app.InitializeMigrator(cfg, io.Discard)
	require.NoError(t, err)
	_, err = m.Up(context.Background())
	cleanup()
	require.NoError(t, err)

	plain, err := sqlx.Open("postgres", dsn)
	require.NoError(t, err)
	defer plain.Close()
	tables := []string{"route_groups", "providers", "models", "bindings", "masters", "keys", "operators", "service_tokens", "audit_log", "logs", "logs_default"}
	for _, tbl := range tables {
		if tbl == "logs" {
			continue // partitioned: its partitions carry the setting
		}
		_, err := plain.Exec(`ALTER TABLE ` + tbl + ` SET (autovacuum_enabled = false)`)
		require.NoError(t, err)
	}
	const n = 20000
	load := func(from, to int) {
		for _, q := range []string{
			`INSERT INTO route_groups (name) SELECT 'g' || i FROM generate_series(1, 50) i ON CONFLICT DO NOTHING`,
			`INSERT INTO providers (name, type, group_id, models) SELECT 'p' || i, 'openai', (SELECT min(id) FROM route_groups) + i % 50, '{m}' FROM generate_series($1::int, $2::int) i`,
			`INSERT INTO models (namespace, name, kind) SELECT 'default', 'm' || i, 'chat' FROM generate_series($1::int, $2::int) i`,
			`INSERT INTO bindings (model_id, candidates) SELECT id, '[]' FROM models WHERE id NOT IN (SELECT model_id FROM bindings)`,
			`INSERT INTO masters (name, token_hash, token_prefix) SELECT 'm' || i, md5(i::text) || md5(i::text), 'mk-' FROM generate_series($1::int, $2::int) i`,
			`INSERT INTO keys (master_id, name, prefix, token_hash, group_name, issued_by) SELECT id, 'k', 'sk-', token_hash, 'default', 'master' FROM masters WHERE id NOT IN (SELECT master_id FROM keys)`,
			`INSERT INTO operators (username, password_hash, role) SELECT 'o' || i, 'x', 'viewer' FROM generate_series($1::int, $2::int) i`,
			`INSERT INTO service_tokens (name, role, token_hash, prefix) SELECT 's' || i, 'viewer', md5(i::text) || md5(i::text), 'st-' FROM generate_series($1::int, $2::int) i`,
			`INSERT INTO audit_log (actor_type, actor_id, action, resource_type, resource_id) SELECT 'operator', i % 50, 'x.update', 'x', (i % 50)::text FROM generate_series($1::int, $2::int) i`,
			`INSERT INTO logs (created_at, request_id, key_id, master_id, model, status_code) SELECT '2020-01-01'::timestamptz + i * interval '1 second', 'r' || i, i % 50, i % 10, 'm' || i % 20, 200 + i % 4 * 100 FROM generate_series($1::int, $2::int) i`,
		} {
			var err error
			if strings.Contains(q, "$1") {
				_, err = plain.Exec(q, from, to)
			} else {
				_, err = plain.Exec(q)
			}
			require.NoError(t, err, q)
		}
	}
	load(1, n)
	var stats int
	require.NoError(t, plain.Get(&stats, `SELECT count(*) FROM pg_stats WHERE schemaname = 'public' AND tablename = ANY($1)`, pq.StringArray(tables)))
	require.Zero(t, stats, "the tables must have no statistics")

	pqc, err := pq.NewConnector(dsn)
	require.NoError(t, err)
	rec := &recorder{inner: pqc}
	db := sqlx.NewDb(sql.OpenDB(rec), "postgres")
	defer db.Close()

	ctx := context.Background()
	cases := []struct {
		name string
		// The index the page is read from in order; "a|b": either. A
		// filter the statistics say most rows pass is read along the
		// primary key, filtering, which is in order too.
		index string
		list  func(after int64) error
	}{
		{"providers", "providers_pkey", func(after int64) error {
			_, err := postgres.NewProviderRepository(db).List(ctx, domain.ProviderFilter{}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"bindings", "bindings_pkey", func(after int64) error {
			_, err := postgres.NewBindingRepository(db).List(ctx, domain.BindingFilter{}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"models", "models_pkey", func(after int64) error {
			_, err := postgres.NewModelRepository(db).List(ctx, domain.ModelFilter{}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"masters", "masters_pkey", func(after int64) error {
			_, err := postgres.NewMasterRepository(db).List(ctx, domain.MasterFilter{}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"keys", "keys_pkey", func(after int64) error {
			_, err := postgres.NewKeyRepository(db).List(ctx, domain.KeyFilter{}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"operators", "operators_pkey", func(after int64) error {
			_, err := postgres.NewOperatorRepository(db).List(ctx, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"service_tokens", "service_tokens_pkey", func(after int64) error {
			_, err := postgres.NewServiceTokenRepository(db).List(ctx, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"audit", "audit_log_pkey", func(after int64) error {
			_, err := postgres.NewAuditRepository(db).List(ctx, domain.AuditFilter{Limit: 101, Before: after})
			return err
		}},
		// Filtered lists read an index that has the filter's columns
		// first and the page order after them, so the page is a range of
		// it whatever the statistics say.
		{"providers_status", "providers_status_idx|providers_pkey", func(after int64) error {
			_, err := postgres.NewProviderRepository(db).List(ctx, domain.ProviderFilter{Status: domain.ProviderActive}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"providers_type", "providers_type_idx|providers_pkey", func(after int64) error {
			_, err := postgres.NewProviderRepository(db).List(ctx, domain.ProviderFilter{Type: "openai"}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"providers_group", "providers_group_id_idx|providers_pkey", func(after int64) error {
			_, err := postgres.NewProviderRepository(db).List(ctx, domain.ProviderFilter{Group: "g7"}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"providers_name_prefix", "providers_pkey", func(after int64) error {
			_, err := postgres.NewProviderRepository(db).List(ctx, domain.ProviderFilter{NamePrefix: "p1"}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"models_namespace", "models_namespace_id_idx|models_pkey", func(after int64) error {
			_, err := postgres.NewModelRepository(db).List(ctx, domain.ModelFilter{Namespace: "default"}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"models_kind", "models_kind_idx|models_pkey", func(after int64) error {
			_, err := postgres.NewModelRepository(db).List(ctx, domain.ModelFilter{Kind: domain.ModelChat}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"models_status", "models_status_idx|models_pkey", func(after int64) error {
			_, err := postgres.NewModelRepository(db).List(ctx, domain.ModelFilter{Status: domain.StatusActive}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"bindings_status", "bindings_status_idx|bindings_pkey", func(after int64) error {
			_, err := postgres.NewBindingRepository(db).List(ctx, domain.BindingFilter{Status: domain.StatusActive}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"bindings_namespace", "bindings_pkey", func(after int64) error {
			_, err := postgres.NewBindingRepository(db).List(ctx, domain.BindingFilter{Namespace: "default"}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"masters_status", "masters_status_idx|masters_pkey", func(after int64) error {
			_, err := postgres.NewMasterRepository(db).List(ctx, domain.MasterFilter{Status: domain.MasterActive}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"keys_master", "keys_master_idx|keys_pkey", func(after int64) error {
			_, err := postgres.NewKeyRepository(db).List(ctx, domain.KeyFilter{MasterID: 7}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"keys_status", "keys_status_idx|keys_pkey", func(after int64) error {
			_, err := postgres.NewKeyRepository(db).List(ctx, domain.KeyFilter{Status: domain.KeyRevoked}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"keys_active", "keys_status_idx|keys_pkey", func(after int64) error {
			_, err := postgres.NewKeyRepository(db).List(ctx, domain.KeyFilter{Status: domain.KeyActive}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"keys_expired", "keys_pkey", func(after int64) error {
			_, err := postgres.NewKeyRepository(db).List(ctx, domain.KeyFilter{Status: domain.KeyExpired}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"keys_group", "keys_group_idx|keys_pkey", func(after int64) error {
			_, err := postgres.NewKeyRepository(db).List(ctx, domain.KeyFilter{Group: "default"}, domain.Page{Limit: 101, After: after})
			return err
		}},
		{"audit_resource", "audit_log_resource_idx|audit_log_pkey", func(after int64) error {
			_, err := postgres.NewAuditRepository(db).List(ctx, domain.AuditFilter{ResourceType: "x", ResourceID: "7", Limit: 101, Before: after})
			return err
		}},
		{"audit_actor", "audit_log_actor_idx|audit_log_pkey", func(after int64) error {
			id := int64(7)
			_, err := postgres.NewAuditRepository(db).List(ctx, domain.AuditFilter{ActorType: "operator", ActorID: &id, Limit: 101, Before: after})
			return err
		}},
		{"audit_action", "audit_log_pkey", func(after int64) error {
			_, err := postgres.NewAuditRepository(db).List(ctx, domain.AuditFilter{Action: "x.update", Limit: 101, Before: after})
			return err
		}},
		{"logs", "logs_default_created_at_id_idx", func(after int64) error {
			_, err := postgres.NewLogReader(db).List(ctx, logFilter(after, domain.LogFilter{}))
			return err
		}},
		{"logs_key", "logs_default_key_id_created_at_id_idx|logs_default_created_at_id_idx", func(after int64) error {
			k := int64(7)
			_, err := postgres.NewLogReader(db).List(ctx, logFilter(after, domain.LogFilter{KeyID: &k}))
			return err
		}},
		{"logs_master", "logs_default_master_id_created_at_id_idx|logs_default_created_at_id_idx", func(after int64) error {
			m := int64(7)
			_, err := postgres.NewLogReader(db).List(ctx, logFilter(after, domain.LogFilter{MasterID: &m}))
			return err
		}},
		{"logs_model", "logs_default_created_at_id_idx", func(after int64) error {
			_, err := postgres.NewLogReader(db).List(ctx, logFilter(after, domain.LogFilter{Model: "m7"}))
			return err
		}},
		{"logs_status", "logs_default_created_at_id_idx", func(after int64) error {
			_, err := postgres.NewLogReader(db).List(ctx, logFilter(after, domain.LogFilter{StatusClass: 5}))
			return err
		}},
	}
	check := func(t *testing.T) {
		for _, tc := range cases {
			for _, page := range []struct {
				name  string
				after int64
			}{{"first_page", 0}, {"middle_page", n / 2}} {
				t.Run(tc.name+"_"+page.name, func(t *testing.T) {
					require.NoError(t, tc.list(page.after))
					// EXPLAIN exactly what the repository ran, under the
					// planner settings it ran it with.
					q, args, sets := rec.last()
					tx, err := plain.Beginx()
					require.NoError(t, err)
					defer func() { _ = tx.Rollback() }()
					if sets != "" {
						_, err := tx.Exec(sets)
						require.NoError(t, err)
					}
					var raw []byte
					require.NoError(t, tx.Get(&raw, `EXPLAIN (FORMAT JSON) `+q, args...))
					var plans []struct {
						Plan planNode `json:"Plan"`
					}
					require.NoError(t, json.Unmarshal(raw, &plans))
					require.Len(t, plans, 1)
					plan := plans[0].Plan
					assert.Empty(t, plan.unboundedSorts(), "a sort over more than the page:\n%s\n%s", q, raw)
					read := false
					for _, index := range strings.Split(tc.index, "|") {
						read = read || plan.readsIndex(index)
					}
					assert.True(t, read,
						"the page is not read from %s in order:\n%s\n%s", tc.index, q, raw)
				})
			}
		}
	}
	t.Run("statistics_absent", check)

	// Stale statistics: ANALYZE saw a handful of rows, then the tables grew.
	_, err = plain.Exec(`TRUNCATE ` + strings.Join(tables, ", ") + ` CASCADE`)
	require.NoError(t, err)
	load(1, 10)
	_, err = plain.Exec(`ANALYZE`)
	require.NoError(t, err)
	load(11, n)
	t.Run("statistics_stale", check)
}

// logFilter is a GET /logs page over the rows the plan test loads (one a
// second from 2020-01-01): the first page, or the page after the record
// numbered after.
func logFilter(after int64, f domain.LogFilter) domain.LogFilter {
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	f.From, f.To, f.Limit = start, start.AddDate(0, 0, 1), 101
	if after > 0 {
		at := start.Add(time.Duration(after) * time.Second)
		f.BeforeAt, f.BeforeID = &at, after
	}
	return f
}

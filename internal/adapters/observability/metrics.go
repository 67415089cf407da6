// Package observability exposes Prometheus metrics: HTTP requests labelled
// by route template (unknown paths share one label), the snapshot
// publisher, the log pipeline, rate limiting, domain gauges, and the Go
// runtime and process collectors.
package observability

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"net/http"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the registry and the instruments.
type Metrics struct {
	Registry *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	snapshotVersion  prometheus.Gauge
	publishDuration  *prometheus.HistogramVec
	publishFailures  prometheus.Counter
	reconcileRepairs prometheus.Counter
	snapshotFaults   prometheus.Gauge
	budgetExceeded   prometheus.Counter

	rateLimited       *prometheus.CounterVec
	rateLimitFallback prometheus.Counter
}

// New builds the registry with the Go runtime and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ezapi_http_requests_total",
			Help: "HTTP requests by method, route template and status."}, []string{"method", "path", "status"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ezapi_http_request_duration_seconds",
			Help: "HTTP request latency by method and route template.", Buckets: prometheus.DefBuckets}, []string{"method", "path"}),
		snapshotVersion: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ezapi_snapshot_version",
			Help: "Config version of the snapshot this replica last published to Redis."}),
		publishDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ezapi_snapshot_publish_duration_seconds",
			Help: "Time to publish a snapshot change, by kind (delta, full).", Buckets: prometheus.DefBuckets}, []string{"kind"}),
		publishFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "ezapi_snapshot_publish_failures_total",
			Help: "Failed publish attempts (retried)."}),
		reconcileRepairs: prometheus.NewCounter(prometheus.CounterOpts{Name: "ezapi_snapshot_reconcile_repairs_total",
			Help: "Times reconcile found Redis drifted and repaired it."}),
		snapshotFaults: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ezapi_snapshot_faults",
			Help: "Snapshot entries published fail-closed (e.g. a provider secret this replica cannot decrypt); listed in GET /sync/status."}),
		budgetExceeded: prometheus.NewCounter(prometheus.CounterOpts{Name: "ezapi_binding_resolve_budget_exceeded_total",
			Help: "Binding resolutions that ran out of sync.binding_resolve_budget in a published build or delta (each published fail-closed, listed in GET /sync/status)."}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ezapi_ratelimit_rejections_total",
			Help: "Requests refused with 429, by rule."}, []string{"rule"}),
		rateLimitFallback: prometheus.NewCounter(prometheus.CounterOpts{Name: "ezapi_ratelimit_fallbacks_total",
			Help: "Rate-limit decisions taken by the local fallback because Redis failed."}),
	}
	r.MustRegister(m.httpRequests, m.httpDuration, m.snapshotVersion, m.publishDuration, m.publishFailures,
		m.reconcileRepairs, m.snapshotFaults, m.budgetExceeded, m.rateLimited, m.rateLimitFallback,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Middleware counts every request under its route template; requests that
// matched no route share the label "unmatched".
func (m *Metrics) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err) // render now so the status is the one sent
			}
			path := c.Path()
			if path == "" || path == "/*" {
				path = "unmatched"
			}
			method := c.Request().Method
			m.httpRequests.WithLabelValues(method, path, strconv.Itoa(c.Response().Status)).Inc()
			m.httpDuration.WithLabelValues(method, path).Observe(time.Since(start).Seconds())
			return nil
		}
	}
}

// Handler serves /metrics; with a non-empty bearer token it requires it.
func (m *Metrics) Handler(bearer string) echo.HandlerFunc {
	h := promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
	want := []byte("Bearer " + bearer)
	return func(c echo.Context) error {
		if bearer != "" && subtle.ConstantTimeCompare([]byte(c.Request().Header.Get("Authorization")), want) != 1 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "A valid credential is required.")
		}
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// Published implements snapshot.Metrics.
func (m *Metrics) Published(version int64, kind string, d time.Duration) {
	m.snapshotVersion.Set(float64(version))
	m.publishDuration.WithLabelValues(kind).Observe(d.Seconds())
}

// Repaired implements snapshot.Metrics.
func (m *Metrics) Repaired() { m.reconcileRepairs.Inc() }

// Failed implements snapshot.Metrics.
func (m *Metrics) Failed() { m.publishFailures.Inc() }

// Faults implements snapshot.Metrics.
func (m *Metrics) Faults(n int) { m.snapshotFaults.Set(float64(n)) }

// BindingBudgetExceeded implements snapshot.Metrics.
func (m *Metrics) BindingBudgetExceeded(n int) { m.budgetExceeded.Add(float64(n)) }

// RateLimited counts a 429 by rule.
func (m *Metrics) RateLimited(rule string) { m.rateLimited.WithLabelValues(rule).Inc() }

// RateLimitFallback counts a decision made locally because Redis failed.
func (m *Metrics) RateLimitFallback() { m.rateLimitFallback.Inc() }

// LogStats is what the log pipeline reports.
type LogStats struct {
	QueueDepth, QueueCapacity, Written, Duplicates, Quarantined, Batches, Retries int64
}

// RegisterLogSink exposes the log pipeline's queue depth and counters.
func (m *Metrics) RegisterLogSink(stats func() LogStats) {
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ezapi_log_queue_depth", Help: "Log records queued or being written."},
			func() float64 { return float64(stats().QueueDepth) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ezapi_log_queue_capacity", Help: "Log records the queue holds before POST /logs answers 503 (log.queue_capacity)."},
			func() float64 { return float64(stats().QueueCapacity) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ezapi_log_rows_written_total", Help: "Log rows committed."},
			func() float64 { return float64(stats().Written) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ezapi_log_rows_duplicate_total", Help: "Log records already stored (retries)."},
			func() float64 { return float64(stats().Duplicates) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ezapi_log_rows_quarantined_total", Help: "Log records PostgreSQL refused, kept in log_rejects."},
			func() float64 { return float64(stats().Quarantined) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ezapi_log_batches_total", Help: "Log write transactions committed."},
			func() float64 { return float64(stats().Batches) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ezapi_log_write_retries_total", Help: "Log batch writes retried."},
			func() float64 { return float64(stats().Retries) }),
	)
}

// LogIngestStats is what POST /logs reports beyond the pipeline.
type LogIngestStats struct {
	UnknownFields, KeyMismatches int64
}

// RegisterLogIngest exposes the ingestion counters of POST /logs.
func (m *Metrics) RegisterLogIngest(stats func() LogIngestStats) {
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ezapi_log_unknown_fields_total",
			Help: "Log record fields ezapi does not know, ignored and never stored."},
			func() float64 { return float64(stats().UnknownFields) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ezapi_log_key_mismatch_total",
			Help: "Log records refused because key_id is unknown or belongs to another master."},
			func() float64 { return float64(stats().KeyMismatches) }),
	)
}

// domainCollector reads counts by status and the outbox backlog on scrape.
type domainCollector struct {
	db       *sqlx.DB
	byStatus *prometheus.Desc
	backlog  *prometheus.Desc
}

// RegisterDomain exposes providers, keys and masters by status and the
// snapshot outbox backlog, read from PostgreSQL at scrape time.
func (m *Metrics) RegisterDomain(db *sqlx.DB) {
	m.Registry.MustRegister(&domainCollector{db: db,
		byStatus: prometheus.NewDesc("ezapi_resources", "Providers, keys and masters by status.", []string{"resource", "status"}, nil),
		backlog:  prometheus.NewDesc("ezapi_snapshot_outbox_backlog", "Configuration changes not yet published to Redis.", nil, nil),
	})
}

func (d *domainCollector) Describe(ch chan<- *prometheus.Desc) { ch <- d.byStatus; ch <- d.backlog }

func (d *domainCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	const q = `SELECT 'provider', status, count(*) FROM providers GROUP BY status
UNION ALL SELECT 'key', status, count(*) FROM keys GROUP BY status
UNION ALL SELECT 'master', status, count(*) FROM masters GROUP BY status`
	rows, err := d.db.QueryContext(ctx, q)
	if err == nil {
		defer rows.Close()
		for rows.Next() {
			var res, st string
			var n float64
			if rows.Scan(&res, &st, &n) == nil {
				ch <- prometheus.MustNewConstMetric(d.byStatus, prometheus.GaugeValue, n, res, st)
			}
		}
	}
	var backlog sql.NullInt64
	if d.db.QueryRowContext(ctx, `SELECT count(*) FROM config_outbox`).Scan(&backlog) == nil {
		ch <- prometheus.MustNewConstMetric(d.backlog, prometheus.GaugeValue, float64(backlog.Int64))
	}
}

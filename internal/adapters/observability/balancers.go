package observability

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ez-api/ez-api/internal/ports"
)

// scrapeTimeout bounds the reads a scrape-time collector makes.
const scrapeTimeout = 2 * time.Second

// balancerCollector reads the balancer registry and the published snapshot
// version on scrape, so the per-instance series exist exactly for the
// balancers that heartbeated within the expiry window.
type balancerCollector struct {
	registry ports.BalancerRegistry
	store    ports.SnapshotStore
	now      func() time.Time
	expiry   time.Duration

	lag, age, published *prometheus.Desc
}

// RegisterBalancers exposes, per balancer instance seen within expiry, the
// snapshot versions it is behind the version published in Redis and the
// age of its last heartbeat; and the published version itself (the same on
// every replica, unlike ezapi_snapshot_version, which only the publisher sets).
func (m *Metrics) RegisterBalancers(registry ports.BalancerRegistry, store ports.SnapshotStore, now func() time.Time, expiry time.Duration) {
	m.Registry.MustRegister(&balancerCollector{registry: registry, store: store, now: now, expiry: expiry,
		lag: prometheus.NewDesc("ezapi_balancer_snapshot_version_lag",
			"Snapshot versions the balancer's applied version is behind the version published in Redis (0 = current).",
			[]string{"instance_id"}, nil),
		age: prometheus.NewDesc("ezapi_balancer_heartbeat_age_seconds",
			"Seconds since the balancer's last heartbeat (POST /balancers/heartbeat).", []string{"instance_id"}, nil),
		published: prometheus.NewDesc("ezapi_snapshot_published_version",
			"Config version in Redis's meta:snapshot, the version balancers should apply.", nil, nil),
	})
}

func (c *balancerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lag
	ch <- c.age
	ch <- c.published
}

func (c *balancerCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	// Without Redis the lag is unknown: its series are omitted rather than
	// reported against version 0.
	meta, merr := c.store.Meta(ctx)
	if merr == nil {
		ch <- prometheus.MustNewConstMetric(c.published, prometheus.GaugeValue, float64(meta.Version))
	}
	balancers, err := c.registry.List(ctx)
	if err != nil {
		return
	}
	now := c.now()
	for _, b := range balancers {
		age := now.Sub(b.LastSeen)
		if age > c.expiry {
			continue // gone (scaled in, renamed): keeps the series set bounded
		}
		ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, max(age.Seconds(), 0), b.InstanceID)
		if merr == nil {
			ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, float64(max(meta.Version-b.SnapshotVersion, 0)), b.InstanceID)
		}
	}
}

// dependencyCollector runs the health probes on scrape.
type dependencyCollector struct {
	probes []ports.HealthProbe
	up     *prometheus.Desc
}

// RegisterDependencies exposes ezapi_dependency_up per health probe
// (postgres, redis, the log pipeline, the publisher), probed at scrape time.
func (m *Metrics) RegisterDependencies(probes []ports.HealthProbe) {
	m.Registry.MustRegister(&dependencyCollector{probes: probes,
		up: prometheus.NewDesc("ezapi_dependency_up",
			"1 when the dependency's health probe (as in /readyz and /health) answers, else 0.", []string{"dependency"}, nil)})
}

func (c *dependencyCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.up }

func (c *dependencyCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range c.probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			up := 0.0
			if p.Ping(ctx) == nil {
				up = 1
			}
			ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, p.Name())
		}()
	}
	wg.Wait()
}

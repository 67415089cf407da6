package observability_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/observability"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

type fakeRegistry struct {
	list []domain.BalancerHeartbeat
	err  error
}

func (f *fakeRegistry) Heartbeat(context.Context, domain.BalancerHeartbeat) error { return nil }
func (f *fakeRegistry) List(context.Context) ([]domain.BalancerHeartbeat, error) {
	return f.list, f.err
}

// fakeStore answers only Meta, which is all the collector reads.
type fakeStore struct {
	ports.SnapshotStore
	version int64
	err     error
}

func (f *fakeStore) Meta(context.Context) (ports.SnapshotMeta, error) {
	return ports.SnapshotMeta{Version: f.version}, f.err
}

type fakeProbe struct {
	name string
	err  error
}

func (p fakeProbe) Name() string               { return p.name }
func (p fakeProbe) Critical() bool             { return true }
func (p fakeProbe) Ping(context.Context) error { return p.err }

func TestBalancerMetrics(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	balancers := []domain.BalancerHeartbeat{
		{InstanceID: "current", SnapshotVersion: 42, LastSeen: now.Add(-10 * time.Second)},
		{InstanceID: "behind", SnapshotVersion: 39, LastSeen: now.Add(-2 * time.Minute)},
		{InstanceID: "gone", SnapshotVersion: 1, LastSeen: now.Add(-2 * time.Hour)},
	}
	tests := []struct {
		name     string
		store    *fakeStore
		registry *fakeRegistry
		want     map[string]float64
	}{
		{
			name: "exports_lag_and_age_of_unexpired_balancers", store: &fakeStore{version: 42}, registry: &fakeRegistry{list: balancers},
			want: map[string]float64{
				`ezapi_balancer_heartbeat_age_seconds{instance_id="behind"}`:  120,
				`ezapi_balancer_heartbeat_age_seconds{instance_id="current"}`: 10,
				`ezapi_balancer_snapshot_version_lag{instance_id="behind"}`:   3,
				`ezapi_balancer_snapshot_version_lag{instance_id="current"}`:  0,
				`ezapi_snapshot_published_version`:                            42,
			},
		},
		{
			name: "a_balancer_ahead_of_redis_lags_zero", store: &fakeStore{version: 40}, registry: &fakeRegistry{list: balancers[:1]},
			want: map[string]float64{
				`ezapi_balancer_heartbeat_age_seconds{instance_id="current"}`: 10,
				`ezapi_balancer_snapshot_version_lag{instance_id="current"}`:  0,
				`ezapi_snapshot_published_version`:                            40,
			},
		},
		{
			name: "redis_down_omits_lag_keeps_age", store: &fakeStore{err: errors.New("dial tcp: refused")}, registry: &fakeRegistry{list: balancers},
			want: map[string]float64{
				`ezapi_balancer_heartbeat_age_seconds{instance_id="behind"}`:  120,
				`ezapi_balancer_heartbeat_age_seconds{instance_id="current"}`: 10,
			},
		},
		{
			name: "registry_error_keeps_published_version", store: &fakeStore{version: 7}, registry: &fakeRegistry{err: errors.New("db down")},
			want: map[string]float64{
				`ezapi_snapshot_published_version`: 7,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := observability.New()
			m.RegisterBalancers(tc.registry, tc.store, func() time.Time { return now }, time.Hour)
			assert.Equal(t, tc.want, gather(t, m.Registry, "ezapi_balancer_heartbeat_age_seconds",
				"ezapi_balancer_snapshot_version_lag", "ezapi_snapshot_published_version"))
		})
	}
}

func TestDependencyUp(t *testing.T) {
	t.Parallel()
	m := observability.New()
	m.RegisterDependencies([]ports.HealthProbe{fakeProbe{name: "postgres"}, fakeProbe{name: "redis", err: errors.New("refused")}})
	assert.Equal(t, map[string]float64{
		`ezapi_dependency_up{dependency="postgres"}`: 1,
		`ezapi_dependency_up{dependency="redis"}`:    0,
	}, gather(t, m.Registry, "ezapi_dependency_up"))
}

// gather returns the named families' samples as `name{label="value"}` → value.
func gather(t *testing.T, r *prometheus.Registry, names ...string) map[string]float64 {
	t.Helper()
	families, err := r.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range families {
		if !slices.Contains(names, f.GetName()) {
			continue
		}
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := f.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			out[key] = m.GetGauge().GetValue()
		}
	}
	return out
}

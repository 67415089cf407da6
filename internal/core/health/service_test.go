package health_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/health"
	"github.com/ez-api/ez-api/internal/ports"
)

type fakeProbe struct {
	name     string
	critical bool
	err      error
}

func (p fakeProbe) Name() string                   { return p.name }
func (p fakeProbe) Critical() bool                 { return p.critical }
func (p fakeProbe) Ping(ctx context.Context) error { return p.err }

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func TestHealth(t *testing.T) {
	t.Parallel()
	down := errors.New("connection refused")
	cases := []struct {
		name   string
		probes []ports.HealthProbe
		want   domain.HealthStatus
		ready  bool
		reason string
	}{
		{"all_up_is_healthy", []ports.HealthProbe{fakeProbe{"postgres", true, nil}, fakeProbe{"redis", false, nil}}, domain.HealthHealthy, true, ""},
		{"non_critical_down_is_degraded", []ports.HealthProbe{fakeProbe{"postgres", true, nil}, fakeProbe{"redis", false, down}}, domain.HealthDegraded, false, "redis_unreachable"},
		{"critical_down_is_unhealthy", []ports.HealthProbe{fakeProbe{"postgres", true, down}, fakeProbe{"redis", false, nil}}, domain.HealthUnhealthy, false, "postgres_unreachable"},
		{"critical_down_wins_over_degraded", []ports.HealthProbe{fakeProbe{"postgres", true, down}, fakeProbe{"redis", false, down}}, domain.HealthUnhealthy, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			svc := health.NewService(tc.probes, fixedClock{time.Unix(100, 0)}, domain.BuildInfo{Version: "1.2.3"})
			svc.SetPhase(health.PhaseServing)
			rep := svc.Health(context.Background())
			assert.Equal(t, tc.want, rep.Status)
			assert.Equal(t, "1.2.3", rep.Version)
			require.Len(t, rep.Checks, len(tc.probes))
			for _, p := range tc.probes {
				c := rep.Checks[p.Name()]
				assert.Equal(t, p.(fakeProbe).err == nil, c.Up, p.Name())
				if !c.Up {
					assert.Equal(t, "connection refused", c.Err)
				}
			}
			r := svc.Ready(context.Background())
			assert.Equal(t, tc.ready, r.Ready)
			if tc.reason != "" {
				assert.Equal(t, tc.reason, r.Reason)
			}
		})
	}
}

func TestReadyFollowsLifecycle(t *testing.T) {
	t.Parallel()
	svc := health.NewService([]ports.HealthProbe{fakeProbe{"postgres", true, nil}}, fixedClock{time.Now()}, domain.BuildInfo{})
	r := svc.Ready(context.Background())
	assert.False(t, r.Ready)
	assert.Equal(t, "starting", r.Reason)

	svc.SetPhase(health.PhaseServing)
	assert.True(t, svc.Ready(context.Background()).Ready)

	svc.SetPhase(health.PhaseShuttingDown)
	r = svc.Ready(context.Background())
	assert.False(t, r.Ready)
	assert.Equal(t, "shutting_down", r.Reason)
}

// healthOnlyProbe informs /health but never readiness (the snapshot publisher).
type healthOnlyProbe struct{ fakeProbe }

func (healthOnlyProbe) ReadinessExempt() bool { return true }

func TestReadinessExemptProbeDegradesHealthOnly(t *testing.T) {
	t.Parallel()
	failing := healthOnlyProbe{fakeProbe{"snapshot_publisher", false, errors.New("publishing has failed for 1m0s")}}
	svc := health.NewService([]ports.HealthProbe{fakeProbe{"postgres", true, nil}, failing}, fixedClock{time.Now()}, domain.BuildInfo{})
	svc.SetPhase(health.PhaseServing)
	rep := svc.Health(context.Background())
	assert.Equal(t, domain.HealthDegraded, rep.Status)
	assert.False(t, rep.Checks["snapshot_publisher"].Up)
	r := svc.Ready(context.Background())
	assert.True(t, r.Ready, "a failing publisher does not take the replica out of the load balancer")
	assert.NotContains(t, r.Checks, "snapshot_publisher")
}

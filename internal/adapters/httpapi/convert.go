package httpapi

import (
	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/domain"
)

// convert.go: the only place where domain types become API DTOs and back.

func toDependencyChecks(in map[string]domain.DependencyHealth) map[string]gen.DependencyHealth {
	out := make(map[string]gen.DependencyHealth, len(in))
	for name, d := range in {
		dh := gen.DependencyHealth{
			Status:    gen.DependencyHealthStatusDown,
			LatencyMs: float64(d.Latency.Microseconds()) / 1000,
			Critical:  d.Critical,
		}
		if d.Up {
			dh.Status = gen.DependencyHealthStatusUp
		}
		if d.Err != "" {
			e := d.Err
			dh.Error = &e
		}
		out[name] = dh
	}
	return out
}

func toHealth(r domain.HealthReport) gen.Health {
	started := r.StartedAt.UTC()
	return gen.Health{
		Status:        gen.HealthStatus(r.Status),
		Version:       r.Version,
		UptimeSeconds: r.Uptime.Seconds(),
		StartedAt:     &started,
		Checks:        toDependencyChecks(r.Checks),
	}
}

func toReadiness(r domain.Readiness) gen.Readiness {
	out := gen.Readiness{Status: gen.ReadinessStatusReady, Checks: toDependencyChecks(r.Checks)}
	if !r.Ready {
		out.Status = gen.ReadinessStatusNotReady
		reason := r.Reason
		out.Reason = &reason
	}
	return out
}

package domain

import "time"

// HealthStatus is the service's overall health.
type HealthStatus string

// Health statuses, worst last.
const (
	HealthHealthy   HealthStatus = "healthy"
	HealthDegraded  HealthStatus = "degraded"
	HealthUnhealthy HealthStatus = "unhealthy"
)

// DependencyHealth is the outcome of one dependency probe.
type DependencyHealth struct {
	Up       bool
	Critical bool
	Latency  time.Duration
	Err      string
}

// HealthReport is what /health shows.
type HealthReport struct {
	Status    HealthStatus
	Version   string
	StartedAt time.Time
	Uptime    time.Duration
	Checks    map[string]DependencyHealth
}

// Readiness is what /readyz shows.
type Readiness struct {
	Ready  bool
	Reason string
	Checks map[string]DependencyHealth
}

// BuildInfo identifies the running binary (set through ldflags).
type BuildInfo struct {
	Version   string
	Commit    string
	BuildTime string
	GoVersion string
}

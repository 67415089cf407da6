// Package ports declares the interfaces the core use-cases depend on; the
// adapters implement them. Interfaces only.
package ports

import (
	"context"
	"time"
)

// HealthProbe checks one external dependency.
type HealthProbe interface {
	// Name identifies the dependency in health reports ("postgres", "redis").
	Name() string
	// Critical dependencies make the service unhealthy when down; the others
	// make it degraded.
	Critical() bool
	// Ping returns nil when the dependency answers.
	Ping(ctx context.Context) error
}

// ReadinessExempt is implemented by probes that only inform /health: a
// failure degrades health but does not take the replica out of readiness.
type ReadinessExempt interface {
	ReadinessExempt() bool
}

// Clock tells the time; tests substitute a fixed one.
type Clock interface {
	Now() time.Time
}

// Package health answers liveness, readiness and detailed health from the
// dependency probes and the server's lifecycle phase.
package health

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Phase is where the server is in its lifecycle.
type Phase int32

// Lifecycle phases. Only PhaseServing is ready.
const (
	PhaseStarting Phase = iota
	PhaseServing
	PhaseShuttingDown
)

// probeTimeout bounds one dependency probe so a hung dependency cannot hang
// the health endpoints.
const probeTimeout = 2 * time.Second

// Service runs the probes and tracks the lifecycle phase.
type Service struct {
	probes    []ports.HealthProbe
	clock     ports.Clock
	build     domain.BuildInfo
	startedAt time.Time
	phase     atomic.Int32
}

// NewService builds a health service; it starts in PhaseStarting.
func NewService(probes []ports.HealthProbe, clock ports.Clock, build domain.BuildInfo) *Service {
	return &Service{probes: probes, clock: clock, build: build, startedAt: clock.Now()}
}

// SetPhase moves the lifecycle phase (the server calls it on start and stop).
func (s *Service) SetPhase(p Phase) { s.phase.Store(int32(p)) }

// Phase reports the current lifecycle phase.
func (s *Service) Phase() Phase { return Phase(s.phase.Load()) }

// Build returns the running binary's build information.
func (s *Service) Build() domain.BuildInfo { return s.build }

// Health probes every dependency concurrently and summarises.
func (s *Service) Health(ctx context.Context) domain.HealthReport {
	checks := s.probe(ctx)
	status := domain.HealthHealthy
	for _, c := range checks {
		switch {
		case !c.Up && c.Critical:
			status = domain.HealthUnhealthy
		case !c.Up && status == domain.HealthHealthy:
			status = domain.HealthDegraded
		}
	}
	now := s.clock.Now()
	return domain.HealthReport{
		Status:    status,
		Version:   s.build.Version,
		StartedAt: s.startedAt,
		Uptime:    now.Sub(s.startedAt),
		Checks:    checks,
	}
}

// Ready reports whether the server should receive traffic: serving, and every
// dependency reachable.
func (s *Service) Ready(ctx context.Context) domain.Readiness {
	switch s.Phase() {
	case PhaseStarting:
		return domain.Readiness{Reason: "starting", Checks: map[string]domain.DependencyHealth{}}
	case PhaseShuttingDown:
		return domain.Readiness{Reason: "shutting_down", Checks: map[string]domain.DependencyHealth{}}
	}
	checks := s.probe(ctx)
	for _, p := range s.probes {
		if ex, ok := p.(ports.ReadinessExempt); ok && ex.ReadinessExempt() {
			delete(checks, p.Name())
		}
	}
	for name, c := range checks {
		if !c.Up {
			return domain.Readiness{Reason: name + "_unreachable", Checks: checks}
		}
	}
	return domain.Readiness{Ready: true, Checks: checks}
}

func (s *Service) probe(ctx context.Context) map[string]domain.DependencyHealth {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		out = make(map[string]domain.DependencyHealth, len(s.probes))
	)
	for _, p := range s.probes {
		wg.Go(func() {
			start := s.clock.Now()
			err := p.Ping(ctx)
			res := domain.DependencyHealth{Up: err == nil, Critical: p.Critical(), Latency: s.clock.Now().Sub(start)}
			if err != nil {
				res.Err = err.Error()
			}
			mu.Lock()
			out[p.Name()] = res
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

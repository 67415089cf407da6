package snapshot

import (
	"context"
	"strings"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// SyncService is the sync and balancer use-case behind the HTTP API.
type SyncService struct {
	pub       *Publisher
	balancers ports.BalancerRegistry
	clock     ports.Clock
	timeout   time.Duration
}

// NewSyncService builds the use-case; a requested resync waits at most timeout.
func NewSyncService(pub *Publisher, balancers ports.BalancerRegistry, clock ports.Clock, timeout time.Duration) *SyncService {
	return &SyncService{pub: pub, balancers: balancers, clock: clock, timeout: timeout}
}

// Resync runs a full resync on the publishing replica and returns its result.
func (s *SyncService) Resync(ctx context.Context) (domain.ResyncResult, error) {
	return s.pub.RequestFullResync(ctx, s.timeout)
}

// Status compares database, Redis and balancers.
func (s *SyncService) Status(ctx context.Context) (domain.SyncStatus, error) {
	return s.pub.Status(ctx, s.balancers)
}

// Heartbeat records a balancer's report.
func (s *SyncService) Heartbeat(ctx context.Context, b domain.BalancerHeartbeat) error {
	b.InstanceID = strings.TrimSpace(b.InstanceID)
	if b.InstanceID == "" {
		return domain.NewValidationError("instance_id", "must not be blank")
	}
	b.LastSeen = s.clock.Now()
	return s.balancers.Heartbeat(ctx, b)
}

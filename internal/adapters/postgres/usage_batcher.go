package postgres

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ez-api/ez-api/internal/ports"
)

// UsageBatcher keeps service tokens' last_used_at without a database write
// per request: it remembers the latest use of each token and writes them all
// in one statement every interval, and once more on Close.
type UsageBatcher struct {
	repo     ports.ServiceTokenRepository
	interval time.Duration
	logger   *slog.Logger

	mu      sync.Mutex
	pending map[int64]time.Time

	stop chan struct{}
	done chan struct{}
}

var _ ports.UsageRecorder = (*UsageBatcher)(nil)

// NewUsageBatcher starts the flush loop; Close stops it.
func NewUsageBatcher(repo ports.ServiceTokenRepository, interval time.Duration, logger *slog.Logger) *UsageBatcher {
	b := &UsageBatcher{
		repo: repo, interval: interval, logger: logger,
		pending: map[int64]time.Time{}, stop: make(chan struct{}), done: make(chan struct{}),
	}
	go b.loop()
	return b
}

// Touch implements ports.UsageRecorder.
func (b *UsageBatcher) Touch(id int64, at time.Time) {
	b.mu.Lock()
	if prev, ok := b.pending[id]; !ok || at.After(prev) {
		b.pending[id] = at
	}
	b.mu.Unlock()
}

func (b *UsageBatcher) loop() {
	defer close(b.done)
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			b.Flush(context.Background())
		case <-b.stop:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			b.Flush(ctx)
			cancel()
			return
		}
	}
}

// Flush writes what is pending now; on failure the entries are kept for the
// next attempt (a newer use wins).
func (b *UsageBatcher) Flush(ctx context.Context) {
	b.mu.Lock()
	batch := b.pending
	b.pending = map[int64]time.Time{}
	b.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	if err := b.repo.TouchLastUsed(ctx, batch); err != nil {
		b.logger.Warn("service token last_used_at not saved; will retry", "tokens", len(batch), "error", err)
		for id, at := range batch {
			b.Touch(id, at)
		}
	}
}

// Close flushes once more and stops the loop.
func (b *UsageBatcher) Close() {
	close(b.stop)
	<-b.done
}

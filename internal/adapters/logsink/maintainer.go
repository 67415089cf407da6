package logsink

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/ez-api/ez-api/internal/ports"
)

// Maintainer runs log maintenance (partitions, budget periods) at start and
// then every interval, until Close.
type Maintainer struct {
	m        ports.LogMaintenance
	interval time.Duration
	logger   *slog.Logger
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
}

// NewMaintainer builds the runner; Start begins it.
func NewMaintainer(m ports.LogMaintenance, interval time.Duration, logger *slog.Logger) *Maintainer {
	return &Maintainer{m: m, interval: interval, logger: logger}
}

// Start runs maintenance now and then periodically.
func (r *Maintainer) Start() {
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(r.interval)
		defer t.Stop()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := r.m.Maintain(ctx, time.Now()); err != nil {
				r.logger.Warn("log maintenance failed; will retry", "error", err)
			}
			cancel()
			select {
			case <-r.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// Close stops the runner; safe to call twice or without Start.
func (r *Maintainer) Close() {
	r.once.Do(func() {
		if r.stop != nil {
			close(r.stop)
			<-r.done
		}
	})
}

// Package logsink is the buffered log pipeline: a bounded queue that
// requests put records into, and writer workers that group records from
// many requests into batches (up to a size, at least every flush interval)
// and write each with one transaction, retrying with capped backoff while
// PostgreSQL is away. A request waiting for commit learns the outcome of
// each of its records.
package logsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Options size the pipeline.
type Options struct {
	QueueCapacity int
	Writers       int
	BatchSize     int
	FlushInterval time.Duration
	RetryMax      time.Duration
	// DrainTimeout bounds how long Close keeps writing what is queued.
	DrainTimeout time.Duration
	// MaxAttempts: a batch whose write fails this many times in a row for
	// a reason other than an unreachable database is quarantined.
	MaxAttempts int
	// StallTimeout: records waiting while nothing has committed for this
	// long make the pipeline's health probe fail.
	StallTimeout time.Duration
}

// Stats are the pipeline's counters.
type Stats struct {
	QueueDepth  int64
	Written     int64
	Duplicates  int64
	Quarantined int64
	Batches     int64
	Retries     int64
}

type waiter struct {
	mu        sync.Mutex
	remaining int
	outcomes  []ports.WriteOutcome
	done      chan struct{}
}

func (w *waiter) finish(pos int, outcome ports.WriteOutcome) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.outcomes[pos] = outcome
	w.remaining--
	if w.remaining == 0 {
		close(w.done)
	}
}

// entry is one queued record. It points into the slice the request
// submitted (Submit's caller leaves it alone), so the queue's buffer is
// three words a slot, not a whole record: an idle replica does not carry
// a queue_capacity × record-sized buffer.
type entry struct {
	rec *domain.LogRecord
	w   *waiter // nil when nobody waits
	pos int     // the record's position in its request
}

// Sink implements ports.LogSink.
type Sink struct {
	writer ports.LogWriter
	opts   Options
	logger *slog.Logger

	mu       sync.RWMutex // guards closing against sends on a closed queue
	closing  bool
	queue    chan entry
	reserved atomic.Int64
	wg       sync.WaitGroup
	drainBy  atomic.Int64 // unix nanos; writers give up retrying after it

	written, duplicates, quarantined, batches, retries atomic.Int64
	// progress is when the pipeline last committed, or when records
	// started waiting after an idle spell (unix nanos).
	progress atomic.Int64
	now      func() time.Time
}

var (
	_ ports.LogSink     = (*Sink)(nil)
	_ ports.HealthProbe = (*Sink)(nil)
)

// New starts the writer workers; Close drains and stops them.
func New(writer ports.LogWriter, opts Options, logger *slog.Logger) *Sink {
	s := &Sink{writer: writer, opts: opts, logger: logger, queue: make(chan entry, opts.QueueCapacity), now: time.Now}
	s.progress.Store(s.now().UnixNano())
	for range max(opts.Writers, 1) {
		s.wg.Add(1)
		go s.work()
	}
	return s
}

// Submit implements ports.LogSink.
func (s *Sink) Submit(ctx context.Context, records []domain.LogRecord, wait bool) ([]ports.WriteOutcome, error) {
	n := int64(len(records))
	s.mu.RLock()
	if s.closing {
		s.mu.RUnlock()
		return nil, fmt.Errorf("shutting down: %w", domain.ErrUnavailable)
	}
	for {
		cur := s.reserved.Load()
		if cur+n > int64(s.opts.QueueCapacity) {
			s.mu.RUnlock()
			return nil, fmt.Errorf("log queue full (%d of %d): %w", cur, s.opts.QueueCapacity, ErrQueueUnavailable)
		}
		if s.reserved.CompareAndSwap(cur, cur+n) {
			if cur == 0 {
				s.progress.Store(s.now().UnixNano()) // the wait starts now, not at the last commit
			}
			break
		}
	}
	var w *waiter
	if wait {
		w = &waiter{remaining: len(records), outcomes: make([]ports.WriteOutcome, len(records)), done: make(chan struct{})}
	}
	for i := range records {
		s.queue <- entry{rec: &records[i], w: w, pos: i} // never blocks: the slots are reserved
	}
	s.mu.RUnlock()
	if !wait {
		return nil, nil
	}
	select {
	case <-w.done:
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.outcomes, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("records not committed yet (they may still be; retrying is safe): %w", ErrQueueUnavailable)
	}
}

// Name implements ports.HealthProbe.
func (s *Sink) Name() string { return "log_pipeline" }

// Critical implements ports.HealthProbe: a stalled pipeline stops usage
// accounting (quotas, budgets), so the replica is not ready.
func (s *Sink) Critical() bool { return true }

// Ping implements ports.HealthProbe: it fails when records wait and nothing
// has committed for longer than the stall timeout.
func (s *Sink) Ping(context.Context) error {
	if s.opts.StallTimeout <= 0 {
		return nil
	}
	waiting := s.reserved.Load()
	idle := s.now().Sub(time.Unix(0, s.progress.Load()))
	if waiting > 0 && idle > s.opts.StallTimeout {
		return fmt.Errorf("log pipeline stalled: %d records waiting, nothing committed for %s", waiting, idle.Round(time.Second))
	}
	return nil
}

// ErrQueueUnavailable is answered as 503 with Retry-After.
var ErrQueueUnavailable = fmt.Errorf("log pipeline: %w", domain.ErrUnavailable)

// Stats reports the counters.
func (s *Sink) Stats() Stats {
	return Stats{QueueDepth: s.reserved.Load(), Written: s.written.Load(), Duplicates: s.duplicates.Load(),
		Quarantined: s.quarantined.Load(), Batches: s.batches.Load(), Retries: s.retries.Load()}
}

func (s *Sink) work() {
	defer s.wg.Done()
	batch := make([]entry, 0, s.opts.BatchSize)
	for {
		first, ok := <-s.queue
		if !ok {
			return
		}
		batch = append(batch[:0], first)
		timer := time.NewTimer(s.opts.FlushInterval)
	fill:
		for len(batch) < s.opts.BatchSize {
			select {
			case e, ok := <-s.queue:
				if !ok {
					break fill
				}
				batch = append(batch, e)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		s.write(batch)
	}
}

// write stores one batch, retrying with capped exponential backoff until it
// succeeds or a drain deadline passes. While the database is unreachable
// the batch is retried for as long as it takes; a batch that fails
// MaxAttempts times in a row for any other reason is quarantined, so no
// batch is retried forever.
func (s *Sink) write(batch []entry) {
	recs := make([]domain.LogRecord, len(batch))
	for i, e := range batch {
		recs[i] = *e.rec
	}
	backoff := 50 * time.Millisecond
	failures := 0
	var lastErr error
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var out []ports.WriteOutcome
		var err error
		if failures >= max(s.opts.MaxAttempts, 1) {
			err = s.writer.Quarantine(ctx, recs, fmt.Sprintf("batch failed %d times: %v", failures, lastErr))
			if err == nil {
				s.logger.Error("log batch quarantined after repeated failures", "records", len(batch), "attempts", failures, "error", lastErr)
				out = make([]ports.WriteOutcome, len(batch))
				for i := range out {
					out[i] = ports.Quarantined
				}
			}
		} else {
			out, err = s.writer.Write(ctx, recs)
		}
		cancel()
		if err == nil {
			s.finish(batch, out)
			return
		}
		if d := s.drainBy.Load(); d != 0 && time.Now().UnixNano() > d {
			s.logger.Error("log batch lost: the database stayed unavailable through shutdown", "records", len(batch), "error", err)
			s.reserved.Add(-int64(len(batch)))
			return
		}
		if !errors.Is(err, domain.ErrUnavailable) && failures < max(s.opts.MaxAttempts, 1) {
			failures++
			lastErr = err
		}
		s.retries.Add(1)
		s.logger.Warn("log batch not written; retrying", "records", len(batch), "attempt", attempt+1, "retry_in", backoff, "error", err)
		time.Sleep(backoff)
		backoff = min(2*backoff, s.opts.RetryMax)
	}
}

// finish counts a written batch and tells the waiting requests.
func (s *Sink) finish(batch []entry, out []ports.WriteOutcome) {
	s.batches.Add(1)
	s.progress.Store(s.now().UnixNano())
	for i, e := range batch {
		switch out[i] {
		case ports.Inserted:
			s.written.Add(1)
		case ports.Duplicate:
			s.duplicates.Add(1)
		case ports.Quarantined:
			s.quarantined.Add(1)
		}
		if e.w != nil {
			e.w.finish(e.pos, out[i])
		}
	}
	s.reserved.Add(-int64(len(batch)))
}

// Close stops accepting records, writes what is queued (retrying until the
// drain timeout), and stops the workers.
func (s *Sink) Close() {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return
	}
	s.closing = true
	s.drainBy.Store(time.Now().Add(s.opts.DrainTimeout).UnixNano())
	close(s.queue)
	s.mu.Unlock()
	s.wg.Wait()
}

package snapshot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// Options tune the publisher.
type Options struct {
	// PollInterval bounds how long a change waits when no wake-up arrives
	// (another replica made it).
	PollInterval time.Duration
	// ReconcileInterval is how often the leader compares Redis with its
	// state and repairs drift.
	ReconcileInterval time.Duration
	// RetryMax caps the backoff after a failure.
	RetryMax time.Duration
	// BindingResolveBudget bounds one binding's resolution (zero: no
	// bound); a binding that exceeds it is published fail-closed.
	BindingResolveBudget time.Duration
	// Resolutions, when set, receives the binding resolutions of every
	// published state once Redis confirmed it.
	Resolutions ports.BindingResolutionStore
	// Chunk is how many keys or bindings a full resync reads from the
	// database at a time and how many fields a reconcile scans per HSCAN
	// (0: DefaultChunk).
	Chunk int
}

// Metrics receives the publisher's measurements (the observability adapter
// exposes them; nil is fine).
type Metrics interface {
	Published(version int64, kind string, d time.Duration)
	Repaired()
	Failed()
	// Faults is the number of entries currently published fail-closed.
	Faults(n int)
	// BindingBudgetExceeded counts bindings whose resolution ran out of
	// its time budget in a published build or delta.
	BindingBudgetExceeded(n int)
}

// Publisher keeps Redis equal to the database: only while it holds the
// leader lock, it applies outbox changes as atomic deltas in version order,
// runs full resyncs on request or when Redis is empty, behind or drifted,
// and acknowledges outbox rows only after Redis confirmed.
type Publisher struct {
	source  ports.SnapshotSource
	store   ports.SnapshotStore
	lock    ports.LeaderLock
	state   ports.PublishState
	decrypt Decrypter
	clock   ports.Clock
	logger  *slog.Logger
	opts    Options
	metrics Metrics

	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	// mu is the publisher's step: it serialises deltas, resyncs and the
	// swap of a repaired section. A reconcile's scans run without it.
	mu     sync.Mutex
	mirror *State
	leader bool
	// gen counts, per data hash, the writes to it (deltas, resyncs,
	// repairs), so a reconcile knows whether a section moved during its scan.
	gen map[string]uint64
	// reconciling is set while a reconcile runs.
	reconciling sync.WaitGroup

	// failMu guards the failure record the health probe reads.
	failMu       sync.Mutex
	failingSince time.Time // zero while publishing works
	lastFailure  string

	faultsLogged string // the fault list last logged, to log changes only

	// unsaved are resolutions published to Redis whose write to the
	// database failed, retried with the next save (newest per binding).
	unsaved map[int64]domain.BindingResolution
}

// NewPublisher builds the publisher; Start runs it.
func NewPublisher(source ports.SnapshotSource, store ports.SnapshotStore, lock ports.LeaderLock, state ports.PublishState,
	decrypt Decrypter, clock ports.Clock, logger *slog.Logger, opts Options, metrics Metrics) *Publisher {
	return &Publisher{source: source, store: store, lock: lock, state: state, decrypt: decrypt, clock: clock,
		logger: logger, opts: opts, metrics: metrics, wake: make(chan struct{}, 1), gen: map[string]uint64{}}
}

// touched notes writes to the data hashes keys (index hashes count as
// their data hash's); all when keys is nil. Callers hold mu.
func (p *Publisher) touched(keys []string) {
	if keys == nil {
		keys = DataKeys
	}
	for _, k := range keys {
		if d, ok := dataKeyOf[k]; ok {
			k = d
		}
		p.gen[k]++
	}
}

// Notify wakes the publisher after a change was committed on this replica.
func (p *Publisher) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Start runs the publishing loop until Close.
func (p *Publisher) Start() {
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go p.loop()
	if p.opts.ReconcileInterval > 0 {
		p.reconciling.Add(1)
		go p.reconcileLoop()
	}
}

// reconcileLoop reconciles while this replica leads, beside the publishing
// loop (a scan never holds the step): soon after it took the lead, then
// every ReconcileInterval.
func (p *Publisher) reconcileLoop() {
	defer p.reconciling.Done()
	const soon = 200 * time.Millisecond
	wait := soon
	for {
		select {
		case <-p.stop:
			return
		case <-time.After(wait):
		}
		if !p.Leader() {
			wait = soon
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			select {
			case <-p.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		_, err := p.Reconcile(ctx)
		cancel()
		<-stopped
		switch {
		case errors.Is(err, errNotLeader):
			wait = soon // not adopted yet, or the lead was lost
		case err != nil:
			p.logger.Warn("snapshot reconcile failed; will retry", "error", err)
			wait = p.opts.ReconcileInterval
		default:
			wait = p.opts.ReconcileInterval
		}
	}
}

// Close stops the loop and releases the leader lock; safe to call twice.
func (p *Publisher) Close() {
	p.closeOnce.Do(func() {
		if p.stop != nil {
			close(p.stop)
			<-p.done
			p.reconciling.Wait()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = p.lock.Release(ctx)
	})
}

// Leader reports whether this replica publishes.
func (p *Publisher) Leader() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leader
}

func (p *Publisher) loop() {
	defer close(p.done)
	backoff := time.Duration(0)
	for first := true; ; first = false {
		wait := p.opts.PollInterval
		if backoff > 0 {
			wait = backoff
		}
		if first {
			wait = 0 // take the lead (or not) at once on start
		}
		select {
		case <-p.stop:
			return
		case <-p.wake:
		case <-time.After(wait):
		}
		// Generous: a full resync of a million keys takes a while; every
		// Redis and PostgreSQL call has its own timeouts besides.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		err := p.Step(ctx)
		cancel()
		if err != nil {
			if p.metrics != nil {
				p.metrics.Failed()
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), p.opts.RetryMax)
			p.logger.Warn("snapshot publish failed; will retry", "error", err, "retry_in", backoff)
			p.recordError(err)
			p.noteFailure(err)
			continue
		}
		p.noteFailure(nil)
		backoff = 0
	}
}

func (p *Publisher) noteFailure(err error) {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	if err == nil {
		p.failingSince, p.lastFailure = time.Time{}, ""
		return
	}
	if p.failingSince.IsZero() {
		p.failingSince = p.clock.Now()
	}
	p.lastFailure = err.Error()
}

// Failing reports since when this replica's publisher has been failing
// without a success in between (zero: it is not) and the last error.
func (p *Publisher) Failing() (time.Time, string) {
	p.failMu.Lock()
	defer p.failMu.Unlock()
	return p.failingSince, p.lastFailure
}

// HealthProbe is a non-critical probe that fails (so /health says degraded)
// once the publisher has failed for longer than after. It does not affect
// readiness: a replica whose publisher fails still serves the API.
func (p *Publisher) HealthProbe(after time.Duration) ports.HealthProbe {
	return publisherProbe{p: p, after: after}
}

type publisherProbe struct {
	p     *Publisher
	after time.Duration
}

func (publisherProbe) Name() string          { return "snapshot_publisher" }
func (publisherProbe) Critical() bool        { return false }
func (publisherProbe) ReadinessExempt() bool { return true }

func (pp publisherProbe) Ping(context.Context) error {
	since, msg := pp.p.Failing()
	if since.IsZero() {
		return nil
	}
	if d := pp.p.clock.Now().Sub(since); d >= pp.after {
		return fmt.Errorf("snapshot publishing has failed for %s: %s", d.Round(time.Second), msg)
	}
	return nil
}

func (p *Publisher) recordError(err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = p.state.SetPublished(ctx, p.clock.Now(), err.Error())
}

// Step does one round of the leader's work: take or check the lock, honour
// a resync request, apply pending changes, reconcile when due.
func (p *Publisher) Step(ctx context.Context) error {
	if !p.ensureLeader(ctx) {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mirror == nil {
		if err := p.adopt(ctx); err != nil {
			return err
		}
	}
	if len(p.unsaved) > 0 {
		p.published(ctx, &State{}) // retry resolutions whose store failed
	}
	req, pending, err := p.source.Poll(ctx, p.mirror.Version)
	if err != nil {
		return err
	}
	if req != nil {
		if _, err := p.fullResync(ctx); err != nil {
			return err
		}
		if _, pending, err = p.source.Poll(ctx, p.mirror.Version); err != nil {
			return err
		}
	}
	now := p.clock.Now()
	if !pending && !p.mirror.NextTimeChange.IsZero() && !now.Before(p.mirror.NextTimeChange) {
		// A grace period ended or a key expired: the snapshot changes by the
		// clock, so it gets a version of its own like any other change.
		if err := p.source.RecordTimeChange(ctx); err != nil {
			return err
		}
		if _, pending, err = p.source.Poll(ctx, p.mirror.Version); err != nil {
			return err
		}
	}
	if pending {
		return p.applyDelta(ctx)
	}
	return nil
}

func (p *Publisher) ensureLeader(ctx context.Context) bool {
	p.mu.Lock()
	was := p.leader
	p.mu.Unlock()
	if was && p.lock.Held(ctx) {
		return true
	}
	ok, err := p.lock.TryAcquire(ctx)
	if err != nil {
		p.logger.Warn("leader lock unavailable", "error", err)
		ok = false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if ok != was {
		p.logger.Info("snapshot publisher leadership changed", "leader", ok)
	}
	p.leader = ok
	if !ok && p.mirror != nil {
		p.mirror = nil // rebuild from the database when leadership returns
		p.touched(nil)
	}
	return ok
}

// adopt takes over the snapshot Redis holds when it is exactly the
// published state at the database's version (meta:snapshot as published,
// and every section streamed and checked), otherwise replaces it.
func (p *Publisher) adopt(ctx context.Context) error {
	meta, err := p.store.Meta(ctx)
	if err != nil {
		return err
	}
	dbVersion, err := p.source.CurrentVersion(ctx)
	if err != nil {
		return err
	}
	if meta.Version > dbVersion {
		_, err := p.overtake(ctx, meta.Version, dbVersion)
		return err
	}
	ps, err := p.state.State(ctx)
	if err != nil {
		return err
	}
	if pub := ps.Published; pub != nil && pub.Version == dbVersion && meta.Version == dbVersion {
		if s, ok := stateFrom(pub); ok && metaMatches(meta, s, s.Version, s.Checksum()) {
			if ok, err := p.adoptChecked(ctx, s); err != nil || ok {
				return err
			}
		}
	}
	p.logger.Info("redis snapshot empty, behind or drifted; full resync", "redis_version", meta.Version, "db_version", dbVersion)
	_, err = p.fullResync(ctx)
	return err
}

// adoptChecked verifies every section of Redis against s (streamed, one
// chunk in memory) and the models checksum, then adopts s.
func (p *Publisher) adoptChecked(ctx context.Context, s *State) (bool, error) {
	if ok, err := p.verify(ctx, s); err != nil || !ok {
		return false, err
	}
	models, err := p.store.Hash(ctx, KeyModels) // the catalogue: small
	if err != nil {
		return false, err
	}
	mm, err := p.store.Hash(ctx, KeyModelsMeta)
	if err != nil {
		return false, err
	}
	if s.modelsChecksum = ModelsChecksum(models); mm["checksum"] != s.modelsChecksum {
		return false, nil
	}
	r, err := p.source.ReadChanges(ctx, s.Version)
	if err != nil {
		return false, err
	}
	next, err := r.NextKeyTimeChange(ctx, s.ClockFrom)
	r.Close()
	if err != nil {
		return false, err
	}
	if next != nil {
		s.NextTimeChange = *next
	}
	p.mirror = s
	p.touched(nil)
	p.reportFaults(s)
	p.recordAdopted(ctx, s)
	return true, p.source.Ack(ctx, s.Version, p.clock.Now())
}

// recordAdopted records the adoption as a reconcile that matched.
func (p *Publisher) recordAdopted(ctx context.Context, s *State) {
	_ = p.state.RecordReconcile(ctx, domain.ReconcileResult{At: p.clock.Now(), Version: s.Version, Checksum: s.Checksum(), Matched: true})
}

// resolver resolves bindings within the configured budget, on the wall
// clock (the budget bounds real time spent).
func (p *Publisher) resolver() Resolver {
	return Resolver{Budget: p.opts.BindingResolveBudget, Now: time.Now}
}

// applyDelta publishes the pending changes: change-driven (only the entries
// the changes affect, read by id) when it can, else (a version move past a
// restored Redis, a very long backlog) by a streaming full resync.
func (p *Publisher) applyDelta(ctx context.Context) error {
	done, err := p.applyChanges(ctx)
	if err != nil || done {
		return err
	}
	_, err = p.fullResync(ctx)
	return err
}

// publishDelta applies ops with want's meta and, once Redis confirmed,
// acknowledges the outbox up to want.Version.
func (p *Publisher) publishDelta(ctx context.Context, start time.Time, want *State, ops []ports.SnapshotOp) error {
	meta := want.Meta(p.clock.Now())
	applied, err := p.store.ApplyDelta(ctx, ops, meta, want.ModelsMeta(meta.UpdatedAt))
	if err != nil {
		return err
	}
	if !applied {
		// Redis moved on without us (a deposed leader, or Redis holds a
		// snapshot of another database): move past it and resync.
		_, err := p.fullResync(ctx)
		return err
	}
	p.published(ctx, want)
	keys := make([]string, 0, len(ops))
	for _, op := range ops {
		keys = append(keys, op.Key)
	}
	p.touched(keys)
	want.compact()
	p.mirror = want
	p.reportFaults(want)
	if err := p.source.AckPublished(ctx, want.Version, meta.UpdatedAt, summary(want, meta.UpdatedAt)); err != nil {
		return err
	}
	if p.metrics != nil {
		p.metrics.Published(want.Version, "delta", p.clock.Now().Sub(start))
	}
	return nil
}

// fullResync streams the whole configuration from one database view into
// staging keys and swaps them in (one MULTI/EXEC of RENAMEs with meta);
// when Redis holds a higher version it moves past it first.
func (p *Publisher) fullResync(ctx context.Context) (domain.ResyncResult, error) {
	res, err := p.replace(ctx)
	if !errors.Is(err, domain.ErrConflict) {
		return res, err
	}
	meta, merr := p.store.Meta(ctx)
	if merr != nil {
		return res, merr
	}
	dbVersion, verr := p.source.CurrentVersion(ctx)
	if verr != nil {
		return res, verr
	}
	return p.overtake(ctx, meta.Version, dbVersion)
}

// replace writes a full snapshot built by streaming from the database.
func (p *Publisher) replace(ctx context.Context) (domain.ResyncResult, error) {
	start := p.clock.Now()
	st, err := p.source.Stream(ctx)
	if err != nil {
		return domain.ResyncResult{}, err
	}
	defer st.Close()
	stage, err := p.store.Stage(ctx, stagedKeys(DataKeys))
	if err != nil {
		return domain.ResyncResult{}, err
	}
	want, err := p.streamBuild(ctx, st, stage, DataKeys, start)
	if err != nil {
		stage.Abort(ctx)
		return domain.ResyncResult{}, err
	}
	st.Close() // the database view is no longer needed while Redis swaps
	built := p.clock.Now()
	meta := want.Meta(built)
	if err := stage.Commit(ctx, meta, false); err != nil {
		return domain.ResyncResult{}, err
	}
	p.logger.Info("snapshot full resync", "version", want.Version, "counts", meta.Counts,
		"read_and_stage", built.Sub(start), "swap", p.clock.Now().Sub(built))
	p.touched(nil)
	p.published(ctx, want)
	want.Resolutions = nil
	p.mirror = want
	p.reportFaults(want)
	if err := p.source.Ack(ctx, want.Version, meta.UpdatedAt); err != nil {
		return domain.ResyncResult{}, err
	}
	res := domain.ResyncResult{Version: want.Version, Checksum: meta.Checksum, Counts: meta.Counts,
		Duration: p.clock.Now().Sub(start), At: meta.UpdatedAt}
	if p.metrics != nil {
		p.metrics.Published(want.Version, "full", res.Duration)
	}
	if err := p.state.SetResyncResult(ctx, res); err != nil {
		return res, err
	}
	return res, p.recordPublished(ctx, want, meta.UpdatedAt)
}

// overtake handles Redis ahead of the database (a restored or recreated
// database, a leftover install): balancers ignore lower versions, so the
// database's version sequence moves past Redis's and a full resync follows.
func (p *Publisher) overtake(ctx context.Context, redisVersion, dbVersion int64) (domain.ResyncResult, error) {
	p.logger.Error("redis holds a snapshot with a higher version than the database; moving the config version past it and resyncing",
		"redis_version", redisVersion, "database_version", dbVersion)
	if _, err := p.source.AdvancePast(ctx, redisVersion); err != nil {
		return domain.ResyncResult{}, err
	}
	return p.replace(ctx)
}

// published runs once Redis holds want: it counts the bindings that ran
// out of budget and stores the resolutions want computed (with any earlier
// ones whose store failed), in one statement. A failed store does not fail
// the publish (Redis is right); it is logged and retried with the next.
func (p *Publisher) published(ctx context.Context, want *State) {
	if p.metrics != nil && want.budgetExceeded > 0 {
		p.metrics.BindingBudgetExceeded(want.budgetExceeded)
	}
	if p.opts.Resolutions == nil || (len(want.Resolutions) == 0 && len(p.unsaved) == 0) {
		return
	}
	if p.unsaved == nil {
		p.unsaved = map[int64]domain.BindingResolution{}
	}
	for _, r := range want.Resolutions {
		if have, ok := p.unsaved[r.BindingID]; !ok || have.Version <= r.Version {
			p.unsaved[r.BindingID] = r
		}
	}
	rs := make([]domain.BindingResolution, 0, len(p.unsaved))
	for _, r := range p.unsaved {
		rs = append(rs, r)
	}
	if err := p.opts.Resolutions.SaveResolutions(ctx, rs); err != nil {
		p.logger.Warn("storing binding resolutions failed; will retry with the next publish", "error", err, "bindings", len(rs))
		return
	}
	p.unsaved = nil
}

// reportFaults exposes the fail-closed entries of the published state.
func (p *Publisher) reportFaults(s *State) {
	if p.metrics != nil {
		p.metrics.Faults(len(s.Faults))
	}
	key := fmt.Sprint(s.Faults)
	if key == p.faultsLogged {
		return
	}
	p.faultsLogged = key
	for _, f := range s.Faults {
		p.logger.Warn("snapshot entry published fail-closed", "key", f.Resource, "field", f.Field, "reason", f.Reason)
	}
}

// ErrResyncTimeout is returned (wrapped, with the reason) when no replica
// completed a requested resync in time.
var ErrResyncTimeout = fmt.Errorf("full resync timed out: %w", domain.ErrUnavailable)

// RequestFullResync asks the publishing replica (whichever it is) for a full
// resync and waits for its result.
func (p *Publisher) RequestFullResync(ctx context.Context, timeout time.Duration) (domain.ResyncResult, error) {
	requested := p.clock.Now()
	if err := p.state.RequestResync(ctx, requested); err != nil {
		return domain.ResyncResult{}, err
	}
	p.Notify()
	deadline := time.After(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := p.state.State(ctx)
		if err != nil {
			return domain.ResyncResult{}, err
		}
		if st.LastResync != nil && !st.LastResync.At.Before(requested) {
			return *st.LastResync, nil
		}
		select {
		case <-ctx.Done():
			return domain.ResyncResult{}, ctx.Err()
		case <-deadline:
			reason := "no replica holds the publisher lock or it is still busy"
			if since, msg := p.Failing(); !since.IsZero() {
				reason = "the publisher's last error: " + msg
			} else if st.LastError != "" {
				reason = "the publisher's last error: " + st.LastError
			}
			return domain.ResyncResult{}, fmt.Errorf("full resync did not complete within %s; %s: %w", timeout, reason, ErrResyncTimeout)
		case <-tick.C:
		}
	}
}

// Status answers from stored state, never from a build or a full read of
// Redis: the database's version and backlog, the summary the publishing
// replica recorded of what it published, meta:snapshot (one HGETALL), the
// last reconcile's outcome and the balancers. In sync: Redis holds the
// database's version with no backlog, meta:snapshot's checksum is the
// published one, and the last reconcile found Redis equal to the published
// state (or repaired every drift it found).
func (p *Publisher) Status(ctx context.Context, balancers ports.BalancerRegistry) (domain.SyncStatus, error) {
	var st domain.SyncStatus
	var err error
	// Read only: a status call (any replica, any rate) numbers no change
	// and takes no lock; a change not yet numbered counts in the backlog.
	if st.DatabaseVersion, err = p.source.NumberedVersion(ctx); err != nil {
		return st, err
	}
	if st.Backlog, st.OldestPending, err = p.source.Backlog(ctx); err != nil {
		return st, err
	}
	ps, err := p.state.State(ctx)
	if err != nil {
		return st, err
	}
	st.LastPublishAt, st.LastError, st.LastReconcile = ps.LastPublishAt, ps.LastError, ps.LastReconcile
	if pub := ps.Published; pub != nil {
		st.PublishedVersion, st.ExpectedChecksum, st.Faults = pub.Version, pub.Checksum, pub.Faults
	}
	if r := ps.LastReconcile; r != nil {
		st.ComputedChecksum = r.Checksum
	}
	meta, merr := p.store.Meta(ctx)
	if merr != nil {
		st.RedisError = merr.Error()
	} else {
		st.RedisVersion, st.RedisChecksum = meta.Version, meta.Checksum
		st.InSync = meta.Version == st.DatabaseVersion && st.Backlog == 0 && st.PublishedVersion == st.DatabaseVersion &&
			st.RedisChecksum == st.ExpectedChecksum && reconciled(ps.LastReconcile)
	}
	if st.Balancers, err = balancers.List(ctx); err != nil {
		return st, err
	}
	return st, nil
}

// reconciled: the last reconcile found no drift it did not repair.
func reconciled(r *domain.ReconcileResult) bool {
	if r == nil || r.Error != "" {
		return false
	}
	for _, d := range r.Drifted {
		if !slices.Contains(r.Repaired, d) {
			return false
		}
	}
	return true
}

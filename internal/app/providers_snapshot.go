package app

import (
	"log/slog"

	"github.com/google/wire"
	"github.com/redis/go-redis/v9"

	"github.com/ez-api/ez-api/internal/adapters/observability"
	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/adapters/redissnap"
	"github.com/ez-api/ez-api/internal/core/providers"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/internal/ports"
)

// SnapshotSet builds the Redis snapshot publisher and the sync API.
var SnapshotSet = wire.NewSet(
	postgres.NewSnapshotSource,
	wire.Bind(new(ports.SnapshotSource), new(*postgres.SnapshotSource)),
	wire.Bind(new(ports.PublishState), new(*postgres.SnapshotSource)),
	postgres.NewLeaderLock, wire.Bind(new(ports.LeaderLock), new(*postgres.LeaderLock)),
	postgres.NewBalancerRegistry, wire.Bind(new(ports.BalancerRegistry), new(*postgres.BalancerRegistry)),
	ProvideSnapshotStore,
	ProvidePublisher,
	wire.Bind(new(ports.ChangeNotifier), new(*snapshot.Publisher)),
	ProvideSyncService,
)

// ProvideSnapshotStore writes the snapshot under redis.key_prefix.
func ProvideSnapshotStore(cfg Config, rdb redis.UniversalClient) ports.SnapshotStore {
	return redissnap.NewStore(rdb, cfg.Redis.KeyPrefix)
}

// ProvidePublisher builds the publisher; the server starts it once the
// schema is migrated, and the cleanup stops it.
func ProvidePublisher(cfg Config, source ports.SnapshotSource, store ports.SnapshotStore, lock ports.LeaderLock,
	state ports.PublishState, cipher ports.SecretCipher, clock ports.Clock, m *observability.Metrics, logger *slog.Logger,
	resolutions ports.BindingResolutionStore) (*snapshot.Publisher, func()) {
	log := logger.With("component", "snapshot")
	p := snapshot.NewPublisher(source, store, lock, state, providers.KeyDecrypter(cipher), clock, log,
		snapshot.Options{PollInterval: cfg.Sync.PollInterval, ReconcileInterval: cfg.Sync.ReconcileInterval, RetryMax: cfg.Sync.RetryMax,
			BindingResolveBudget: cfg.Sync.BindingResolveBudget, Resolutions: resolutions,
			Chunk: cfg.Sync.ChunkSize}, m)
	// A change committed on any replica wakes this one's publisher at once.
	listener := postgres.NewChangeListener(cfg.Postgres.DSN, p.Notify, log)
	return p, func() {
		_ = listener.Close()
		p.Close()
	}
}

// ProvideSyncService builds the sync API's use-case and exports the
// registry's balancers as metrics.
func ProvideSyncService(cfg Config, pub *snapshot.Publisher, balancers ports.BalancerRegistry, store ports.SnapshotStore,
	clock ports.Clock, m *observability.Metrics) *snapshot.SyncService {
	m.RegisterBalancers(balancers, store, clock.Now, cfg.Sync.BalancerExpiry)
	return snapshot.NewSyncService(pub, balancers, clock, cfg.Sync.ResyncTimeout)
}

// noNotifier is the change notifier of the CLI commands, which run no publisher.
type noNotifier struct{}

func (noNotifier) Notify() {}

// ProvideNoNotifier is used where no publisher runs.
func ProvideNoNotifier() ports.ChangeNotifier { return noNotifier{} }

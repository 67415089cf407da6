package ports

import (
	"context"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// SnapshotData is everything the snapshot is built from, read in one
// consistent database view; Version is the config version it reflects.
type SnapshotData struct {
	Version   int64
	Providers []domain.Provider
	// Ciphertexts holds each provider's encrypted upstream key (if any).
	Ciphertexts map[int64][]byte
	Masters     []domain.Master
	Keys        []domain.Key
	Models      []domain.Model
	Bindings    []domain.Binding
	GroupIDs    map[string]int64
	Features    map[string]string
}

// GroupRouting is what binding resolution reads of some route groups.
type GroupRouting struct {
	GroupIDs    map[string]int64
	Active      map[string][]domain.ProviderRef
	Ciphertexts map[int64][]byte
}

// OutboxChange is one recorded configuration change.
type OutboxChange struct {
	Version   int64
	Section   domain.Section
	EntityID  string
	Op        domain.ChangeOp
	CreatedAt time.Time
}

// SnapshotSource reads the configuration for the publisher.
type SnapshotSource interface {
	// Load reads everything in one repeatable-read transaction, into
	// memory: the from-scratch reference for tests and tools. The publisher
	// reads through Stream, whose memory does not grow with the keys.
	Load(ctx context.Context) (SnapshotData, error)
	// Poll gives the changes committed since the last call their config
	// versions and reports whether a full resync was requested (when) and
	// whether changes after afterVersion wait: the publisher's check at
	// every step, one round trip when nothing new was committed.
	Poll(ctx context.Context, afterVersion int64) (resyncRequested *time.Time, pending bool, err error)
	// Ack removes outbox changes up to and including version and records it
	// as published.
	Ack(ctx context.Context, version int64, at time.Time) error
	// AckPublished is Ack and PublishState.RecordPublished of s (published
	// at at) in one statement: what a delta records once Redis confirmed.
	AckPublished(ctx context.Context, version int64, at time.Time, s domain.PublishedSnapshot) error
	// Backlog counts unpublished changes and the age of the oldest.
	Backlog(ctx context.Context) (count int, oldest *time.Time, err error)
	// CurrentVersion is the newest config version, every committed change
	// counted (changes get their versions when the publisher sees them).
	CurrentVersion(ctx context.Context) (int64, error)
	// NumberedVersion is the newest config version given to a change so
	// far, read without numbering anything: a change committed a moment ago
	// counts in Backlog until the publisher numbers it.
	NumberedVersion(ctx context.Context) (int64, error)
	// RecordTimeChange records a change made by the clock (a key expired,
	// a rotation's grace ended).
	RecordTimeChange(ctx context.Context) error
	// AdvancePast moves the config version sequence past version (when
	// Redis holds a snapshot from a newer database) and records a change
	// at the new version, which it returns.
	AdvancePast(ctx context.Context, version int64) (int64, error)
	// ReadChanges opens one consistent (repeatable-read) view for a delta:
	// the changes after afterVersion and the rows they name, read by id.
	ReadChanges(ctx context.Context, afterVersion int64) (ChangeReader, error)
	// Stream opens one consistent (repeatable-read) view of the whole
	// configuration for a full resync or a section repair: the small sets
	// whole, keys and bindings in chunks. Close ends the view.
	Stream(ctx context.Context) (SnapshotStream, error)
}

// SnapshotStream reads the configuration in one database view; keys and
// bindings are read in id order, chunk by chunk (keyset pagination), so
// memory is bounded by the chunk size, not by the configuration.
type SnapshotStream interface {
	// Version is the config version the view reflects.
	Version() int64
	Providers(ctx context.Context) ([]domain.Provider, map[int64][]byte, error)
	Masters(ctx context.Context) ([]domain.Master, error)
	Models(ctx context.Context) ([]domain.Model, error)
	GroupIDs(ctx context.Context) (map[string]int64, error)
	Features(ctx context.Context) (map[string]string, error)
	// Keys calls fn with the unrevoked keys, at most chunk at a time.
	Keys(ctx context.Context, chunk int, fn func([]domain.Key) error) error
	// Bindings calls fn with the bindings, at most chunk at a time.
	Bindings(ctx context.Context, chunk int, fn func([]domain.Binding) error) error
	Close()
}

// ChangeReader reads, within one database view, what a change-driven delta
// needs: never the whole configuration. Close ends the view.
type ChangeReader interface {
	// Pending returns up to limit outbox changes after the view's version.
	Pending(ctx context.Context, limit int) ([]OutboxChange, error)
	Providers(ctx context.Context, ids []int64) ([]domain.Provider, map[int64][]byte, error)
	// RoutingIn reads what resolving bindings needs of the named route
	// groups, in one query: each existing group's id, its active providers
	// (id and models, in id order) and their key ciphertexts.
	RoutingIn(ctx context.Context, groups []string) (GroupRouting, error)
	Masters(ctx context.Context, ids []int64) ([]domain.Master, error)
	// Keys returns the keys by id whatever their status.
	Keys(ctx context.Context, ids []int64) ([]domain.Key, error)
	// KeysOfMasters returns the unrevoked keys of the masters.
	KeysOfMasters(ctx context.Context, masterIDs []int64) ([]domain.Key, error)
	Models(ctx context.Context, ids []int64) ([]domain.Model, error)
	Bindings(ctx context.Context, ids []int64) ([]domain.Binding, error)
	// BindingsOfModels are the bindings of the models (their field is the model's key).
	BindingsOfModels(ctx context.Context, modelIDs []int64) ([]domain.Binding, error)
	// BindingsRoutingTo are the bindings with a candidate on one of the route groups.
	BindingsRoutingTo(ctx context.Context, groups []string) ([]domain.Binding, error)
	// KeysChangedByClock are the unrevoked keys whose published value
	// changes by the clock alone in (from, to]: expires_at or the end of a
	// rotation's grace period falls in it.
	KeysChangedByClock(ctx context.Context, from, to time.Time) ([]int64, error)
	// NextKeyTimeChange is the earliest such moment after at (nil: none).
	NextKeyTimeChange(ctx context.Context, at time.Time) (*time.Time, error)
	Features(ctx context.Context, names []string) (map[string]string, error)
	Close()
}

// SnapshotOp is one change to a snapshot hash: Value empty means delete.
type SnapshotOp struct {
	Key   string // unprefixed, e.g. "config:providers"
	Field string
	Value string
	Del   bool
}

// SnapshotMeta is what meta:snapshot holds.
type SnapshotMeta struct {
	Version   int64
	Checksum  string
	UpdatedAt time.Time
	Counts    map[string]int
	// Checksums are the per-section checksums (meta:snapshot "checksum:<key>").
	Checksums map[string]string
}

// SnapshotStore is where balancers read the snapshot (Redis).
type SnapshotStore interface {
	// ApplyDelta applies ops and meta atomically unless the stored version is
	// already ≥ meta.Version (then it reports applied=false); then it
	// publishes the change event.
	ApplyDelta(ctx context.Context, ops []SnapshotOp, meta SnapshotMeta, extra map[string]string) (applied bool, err error)
	// Meta reads meta:snapshot (zero Version when absent).
	Meta(ctx context.Context) (SnapshotMeta, error)
	// Fields reads the named fields of one hash (HMGET); absent fields are left out.
	Fields(ctx context.Context, key string, fields []string) (map[string]string, error)
	// FieldsOf reads the named fields of several hashes in one round trip
	// (pipelined HMGETs), per hash; absent fields are left out.
	FieldsOf(ctx context.Context, fields map[string][]string) (map[string]map[string]string, error)
	// Hash reads one whole hash.
	Hash(ctx context.Context, key string) (map[string]string, error)
	// Scan reads one chunk of a hash (HSCAN from cursor with COUNT count):
	// field, value pairs and the next cursor (0: done).
	Scan(ctx context.Context, key string, cursor uint64, count int) (pairs []string, next uint64, err error)
	// Stage starts writing the named hashes under staging names (emptied
	// first); the snapshot's live hashes are untouched until Commit.
	Stage(ctx context.Context, keys []string) (SnapshotStaging, error)
}

// SnapshotStaging writes hashes under staging names, pipelined in the
// background while the caller builds the next values, and swaps them in.
type SnapshotStaging interface {
	// Put stages one field; it blocks only when the writer is behind by
	// more than a few batches. A write error surfaces at Put or Commit.
	Put(ctx context.Context, key, field, value string) error
	// Commit waits for the staged writes and, in one MULTI/EXEC, renames
	// every staged hash over its live name (deleting the live one when
	// nothing was staged) and writes meta. Full: meta replaces
	// meta:snapshot, refused (domain.ErrConflict) when Redis holds a higher
	// version. Partial (a section repair): meta's fields are merged into
	// meta:snapshot, and only if Redis is still at exactly meta.Version
	// (else domain.ErrConflict). Then it publishes the change event.
	Commit(ctx context.Context, meta SnapshotMeta, partial bool) error
	// Abort drops the staged hashes.
	Abort(ctx context.Context)
}

// LeaderLock elects the one replica that publishes.
type LeaderLock interface {
	// TryAcquire takes the lock if free; it is held until Release or until
	// the holder's database session ends.
	TryAcquire(ctx context.Context) (bool, error)
	// Held reports whether this replica still holds the lock.
	Held(ctx context.Context) bool
	Release(ctx context.Context) error
}

// BalancerRegistry keeps the balancers' heartbeats.
type BalancerRegistry interface {
	Heartbeat(ctx context.Context, b domain.BalancerHeartbeat) error
	List(ctx context.Context) ([]domain.BalancerHeartbeat, error)
}

// PublishState records the publisher's progress where every replica can read it.
type PublishState interface {
	SetPublished(ctx context.Context, at time.Time, errMsg string) error
	// RecordPublished records a successful publish and the summary of the
	// published state (and clears the last error).
	RecordPublished(ctx context.Context, s domain.PublishedSnapshot) error
	// RecordReconcile records a reconcile's outcome.
	RecordReconcile(ctx context.Context, r domain.ReconcileResult) error
	RequestResync(ctx context.Context, at time.Time) error
	ResyncRequested(ctx context.Context) (*time.Time, error)
	SetResyncResult(ctx context.Context, r domain.ResyncResult) error
	State(ctx context.Context) (domain.PublishState, error)
}

package ports

import (
	"context"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// ChangeRecorder records a configuration change for the snapshot publisher:
// it writes an outbox row in the caller's transaction, so a change is never
// lost when Redis is down, and returns the change's sequence number (the
// publisher assigns the config version once the change is committed).
type ChangeRecorder interface {
	Record(ctx context.Context, section domain.Section, entityID string, op domain.ChangeOp) (seq int64, err error)
}

// AuditedChangeRecorder is a ChangeRecorder that also writes the change's
// audit entry, in the same statement: the entry's changes gain the
// change's sequence number as "change_seq". The mutation runner uses it
// when the recorder has it (one round trip per change instead of two).
type AuditedChangeRecorder interface {
	RecordAudited(ctx context.Context, section domain.Section, entityID string, op domain.ChangeOp, entry domain.AuditEntry) (seq int64, err error)
}

// ProviderSecret is a provider's encrypted upstream key.
type ProviderSecret struct {
	ProviderID int64
	Ciphertext []byte
}

// ProviderRepository stores providers; the upstream key only as ciphertext.
type ProviderRepository interface {
	// NextID reserves an id, so the key can be encrypted with the row's
	// identity as additional data before the row exists.
	NextID(ctx context.Context) (int64, error)
	// Create inserts p with p.ID from NextID; ciphertext may be nil.
	Create(ctx context.Context, p domain.Provider, ciphertext []byte) (domain.Provider, error)
	Get(ctx context.Context, id int64) (domain.Provider, error)
	List(ctx context.Context, f domain.ProviderFilter, page domain.Page) ([]domain.Provider, error)
	// Update writes every field; keyChanged says whether ciphertext replaces the stored key.
	Update(ctx context.Context, p domain.Provider, keyChanged bool, ciphertext []byte) (domain.Provider, error)
	Delete(ctx context.Context, id int64) error
	// ActiveRefsByGroup returns the active providers of each named group.
	ActiveRefsByGroup(ctx context.Context, groups []string) (map[string][]domain.ProviderRef, error)
	// Secrets lists every stored key ciphertext after id, for rotation.
	Secrets(ctx context.Context, afterID int64, limit int) ([]ProviderSecret, error)
	// ReplaceSecret swaps one ciphertext if it still equals old.
	ReplaceSecret(ctx context.Context, id int64, old, ciphertext []byte) (bool, error)
}

// RouteGroupRepository gives route groups their ids, creating them on first use.
type RouteGroupRepository interface {
	Ensure(ctx context.Context, names []string) (map[string]int64, error)
	// Lookup returns the ids of the groups that exist, creating none.
	Lookup(ctx context.Context, names []string) (map[string]int64, error)
}

// ModelRepository stores the public model catalogue.
type ModelRepository interface {
	Create(ctx context.Context, m domain.Model) (domain.Model, error)
	Get(ctx context.Context, id int64) (domain.Model, error)
	GetByKey(ctx context.Context, namespace, name string) (domain.Model, error)
	List(ctx context.Context, f domain.ModelFilter, page domain.Page) ([]domain.Model, error)
	Update(ctx context.Context, m domain.Model) (domain.Model, error)
	Delete(ctx context.Context, id int64) error
}

// BindingResolutionStore keeps each binding's last computed resolution, so
// reads serve it without resolving against the providers again.
type BindingResolutionStore interface {
	// SaveResolutions stores the resolutions in one statement: each replaces
	// the stored one unless that was computed at a higher version or is the
	// same (then the stored row and its version stay); a binding deleted
	// meanwhile is skipped. A zero Version stands for the newest config
	// version assigned when it is saved (a binding's own write, whose change
	// gets its version from the publisher after the commit).
	SaveResolutions(ctx context.Context, rs []domain.BindingResolution) error
	// Resolutions returns the stored resolutions of the bindings; a binding
	// with none is absent.
	Resolutions(ctx context.Context, bindingIDs []int64) (map[int64]domain.BindingResolution, error)
}

// BindingRepository stores bindings.
type BindingRepository interface {
	Create(ctx context.Context, b domain.Binding) (domain.Binding, error)
	Get(ctx context.Context, id int64) (domain.Binding, error)
	List(ctx context.Context, f domain.BindingFilter, page domain.Page) ([]domain.Binding, error)
	Update(ctx context.Context, b domain.Binding) (domain.Binding, error)
	Delete(ctx context.Context, id int64) error
	// KeysUsingModel names the bindings of a model (to refuse its deletion).
	KeysUsingModel(ctx context.Context, modelID int64) ([]string, error)
}

// ChangeNotifier is told after a configuration change committed, so the
// snapshot publisher on this replica does not wait for its next poll.
type ChangeNotifier interface {
	Notify()
}

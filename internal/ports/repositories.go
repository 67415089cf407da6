package ports

import (
	"context"
	"time"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// TxRunner runs fn in one database transaction; repositories called with
// the ctx fn receives take part in it. A nested call joins the outer
// transaction.
type TxRunner interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// AuditRepository stores audit entries, in the caller's transaction when
// there is one.
type AuditRepository interface {
	Record(ctx context.Context, e domain.AuditEntry) error
}

// OperatorRepository stores operators. Lookups of missing rows return
// domain.ErrNotFound; a taken username returns domain.ErrConflict.
type OperatorRepository interface {
	Create(ctx context.Context, op domain.Operator) (domain.Operator, error)
	Get(ctx context.Context, id int64) (domain.Operator, error)
	GetByUsername(ctx context.Context, username string) (domain.Operator, error)
	List(ctx context.Context, page domain.Page) ([]domain.Operator, error)
	Update(ctx context.Context, op domain.Operator) (domain.Operator, error)
	Delete(ctx context.Context, id int64) error
	// LockActiveAdmins returns the ids of active admins, locking their rows
	// until the transaction ends so the last-admin rule holds under
	// concurrent changes. Must run inside InTx.
	LockActiveAdmins(ctx context.Context) ([]int64, error)
	// AnyAdmin reports whether an admin operator exists (active or not).
	AnyAdmin(ctx context.Context) (bool, error)
	TouchLogin(ctx context.Context, id int64, at time.Time) error
}

// ServiceTokenRepository stores service tokens by the sha256 of the token.
type ServiceTokenRepository interface {
	Create(ctx context.Context, t domain.ServiceToken) (domain.ServiceToken, error)
	Get(ctx context.Context, id int64) (domain.ServiceToken, error)
	GetByHash(ctx context.Context, hash string) (domain.ServiceToken, error)
	List(ctx context.Context, page domain.Page) ([]domain.ServiceToken, error)
	Revoke(ctx context.Context, id int64, at time.Time) (domain.ServiceToken, error)
	// TouchLastUsed records last-use times in one statement.
	TouchLastUsed(ctx context.Context, lastUsed map[int64]time.Time) error
}

// MasterCredentialRepository resolves master tokens (by sha256) to tenants.
type MasterCredentialRepository interface {
	GetByTokenHash(ctx context.Context, hash string) (domain.MasterCredential, error)
}

// Authenticator resolves one kind of credential to a principal. The auth
// manager picks the first registered authenticator that Accepts the
// credential's shape.
type Authenticator interface {
	Name() string
	Accepts(credential string) bool
	// Authenticate returns domain.ErrUnauthenticated (wrapped) for a bad
	// credential and another error when it could not decide.
	Authenticate(ctx context.Context, credential string) (domain.Principal, error)
}

// UsageRecorder notes that a credential was used, without writing to the
// database on every request.
type UsageRecorder interface {
	Touch(id int64, at time.Time)
}

// CredentialCache forgets cached principals after a credential or its owner
// changed on this replica.
type CredentialCache interface {
	Invalidate()
}

// MasterRepository stores tenants.
type MasterRepository interface {
	Create(ctx context.Context, m domain.Master) (domain.Master, error)
	Get(ctx context.Context, id int64) (domain.Master, error)
	List(ctx context.Context, f domain.MasterFilter, page domain.Page) ([]domain.Master, error)
	Update(ctx context.Context, m domain.Master) (domain.Master, error)
	Delete(ctx context.Context, id int64) error
	// Lock holds the master's row until the transaction ends, so its key
	// count cannot race past max_keys.
	Lock(ctx context.Context, id int64) (domain.Master, error)
}

// KeyRepository stores client keys.
type KeyRepository interface {
	Create(ctx context.Context, k domain.Key) (domain.Key, error)
	Get(ctx context.Context, id int64) (domain.Key, error)
	List(ctx context.Context, f domain.KeyFilter, page domain.Page) ([]domain.Key, error)
	Update(ctx context.Context, k domain.Key) (domain.Key, error)
	// CountLive counts a master's keys that are not revoked.
	CountLive(ctx context.Context, masterID int64) (int, error)
	// LiveIDs lists a master's keys that are not revoked.
	LiveIDs(ctx context.Context, masterID int64) ([]int64, error)
}

// FeatureRepository stores feature flags.
type FeatureRepository interface {
	All(ctx context.Context) (map[string]string, error)
	Upsert(ctx context.Context, name, value string) error
	Delete(ctx context.Context, name string) (bool, error)
}

// AuditReader lists audit entries, newest first.
type AuditReader interface {
	List(ctx context.Context, f domain.AuditFilter) ([]domain.AuditEntry, error)
}

// ModelCatalog tells which binding keys exist (for keys' allowed_models).
type ModelCatalog interface {
	MissingKeys(ctx context.Context, keys []string) ([]string, error)
}

// ImportRepository is the bulk storage an import needs; every method runs in
// the caller's transaction.
type ImportRepository interface {
	// ProviderNames reports which of names are taken by providers, keyed by
	// lower-case name (names are unique case-insensitively).
	ProviderNames(ctx context.Context, names []string) (map[string]bool, error)
	// MastersByName returns the existing masters among names (compared
	// case-insensitively), keyed by lower-case name.
	MastersByName(ctx context.Context, names []string) (map[string]domain.Master, error)
	// TakenKeyHashes reports which of hashes any key already answers to
	// (current, previous or alias hash).
	TakenKeyHashes(ctx context.Context, hashes []string) (map[string]bool, error)
	// InsertKeys stores keys in batches and returns their ids, in order.
	InsertKeys(ctx context.Context, keys []domain.Key) ([]int64, error)
	// ModelBinding finds the catalogue model namespace.name (the name
	// compared case-insensitively, as the catalogue's unique index does):
	// its stored name, and whether a binding routes it.
	ModelBinding(ctx context.Context, namespace, name string) (stored string, found, bound bool, err error)
	// RecordChanges writes one outbox row per entity, versions in order.
	RecordChanges(ctx context.Context, section domain.Section, ids []string, op domain.ChangeOp) error
}

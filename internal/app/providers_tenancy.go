package app

import (
	"github.com/google/wire"

	"github.com/ez-api/ez-api/internal/adapters/httpapi"
	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/core/audit"
	"github.com/ez-api/ez-api/internal/core/changes"
	"github.com/ez-api/ez-api/internal/core/features"
	"github.com/ez-api/ez-api/internal/core/keys"
	"github.com/ez-api/ez-api/internal/core/masters"
	"github.com/ez-api/ez-api/internal/ports"
)

// TenancySet builds masters, client keys, feature flags and the audit reader.
var TenancySet = wire.NewSet(
	postgres.NewMasterRepository, wire.Bind(new(ports.MasterRepository), new(*postgres.MasterRepository)),
	postgres.NewKeyRepository, wire.Bind(new(ports.KeyRepository), new(*postgres.KeyRepository)),
	postgres.NewFeatureRepository, wire.Bind(new(ports.FeatureRepository), new(*postgres.FeatureRepository)),
	ProvideAuditReader,
	ProvideModelCatalog,
	masters.NewService,
	ProvideKeyService,
	features.NewService,
	audit.NewService,
	wire.Struct(new(httpapi.Services), "*"),
)

// ProvideKeyService builds the client-key use-case with its bounds.
func ProvideKeyService(repo ports.KeyRepository, ms ports.MasterRepository, catalog ports.ModelCatalog,
	mut *changes.Mutator, clock ports.Clock, cfg Config) *keys.Service {
	return keys.NewService(repo, ms, catalog, mut, clock, keys.Policy{
		MaxRPM: cfg.Keys.MaxRPM, MaxTPM: cfg.Keys.MaxTPM, MaxGraceSeconds: cfg.Keys.MaxGraceSeconds,
	})
}

// ProvideAuditReader reads the audit log through the repository that writes it.
func ProvideAuditReader(r *postgres.AuditRepository) ports.AuditReader { return r }

// ProvideModelCatalog checks binding keys against the model repository.
func ProvideModelCatalog(r *postgres.ModelRepository) ports.ModelCatalog { return r }

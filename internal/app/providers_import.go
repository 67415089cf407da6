package app

import (
	"github.com/google/wire"

	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/core/bindings"
	"github.com/ez-api/ez-api/internal/core/changes"
	"github.com/ez-api/ez-api/internal/core/imports"
	"github.com/ez-api/ez-api/internal/core/masters"
	"github.com/ez-api/ez-api/internal/core/models"
	"github.com/ez-api/ez-api/internal/core/providers"
	"github.com/ez-api/ez-api/internal/ports"
)

// ImportSet builds the exporter-file import behind POST /admin/import and
// `ezapi import`.
var ImportSet = wire.NewSet(
	postgres.NewImportRepository, wire.Bind(new(ports.ImportRepository), new(*postgres.ImportRepository)),
	ProvideImportService,
)

// ProvideImportService builds the import use-case on the provider, master,
// model and binding use-cases, so imported records pass the same validation.
func ProvideImportService(repo ports.ImportRepository, ps *providers.Service, ms *masters.Service,
	mods *models.Service, bs *bindings.Service, mut *changes.Mutator, notifier ports.ChangeNotifier) *imports.Service {
	return imports.NewService(repo, ps, ms, mods, bs, mut, notifier)
}

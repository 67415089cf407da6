//go:build wireinject

package app

import (
	"github.com/google/wire"

	"github.com/ez-api/ez-api/internal/adapters/postgres"
)

// InitializeServer builds the whole service for `ezapi serve` and the
// in-process test harness.
func InitializeServer(cfg Config, out LogOutput) (*Server, func(), error) {
	wire.Build(ServerSet)
	return nil, nil, nil
}

// InitializeMigrator builds just what `ezapi migrate` needs.
func InitializeMigrator(cfg Config, out LogOutput) (*postgres.Migrator, func(), error) {
	wire.Build(ProvideLogger, ProvideUntraced, ProvideDB, ProvideMigrator)
	return nil, nil, nil
}

// InitializeAdmin builds what `ezapi admin …` commands need.
func InitializeAdmin(cfg Config, out LogOutput) (*Admin, func(), error) {
	wire.Build(InfraSet, ProvideUntraced, RepositorySet, AuthSet, RoutingSet, ProvideNoNotifier, AdminTenancySet, ImportSet,
		wire.Struct(new(Admin), "*"))
	return nil, nil, nil
}

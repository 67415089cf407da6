package app

import (
	"github.com/google/wire"

	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/core/imports"
	"github.com/ez-api/ez-api/internal/core/masters"
	"github.com/ez-api/ez-api/internal/core/operators"
	"github.com/ez-api/ez-api/internal/core/providers"
	"github.com/ez-api/ez-api/internal/ports"
)

// AdminTenancySet is the part of TenancySet `ezapi import` needs.
var AdminTenancySet = wire.NewSet(
	postgres.NewMasterRepository, wire.Bind(new(ports.MasterRepository), new(*postgres.MasterRepository)),
	postgres.NewKeyRepository, wire.Bind(new(ports.KeyRepository), new(*postgres.KeyRepository)),
	masters.NewService,
)

// Admin is what the `ezapi admin` commands work with.
type Admin struct {
	Migrator  *postgres.Migrator
	Operators *operators.Service
	Providers *providers.Service
	Imports   *imports.Service
}

package app

import (
	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/core/operators"
	"github.com/ez-api/ez-api/internal/core/providers"
)

// Admin is what the `ezapi admin` commands work with.
type Admin struct {
	Migrator  *postgres.Migrator
	Operators *operators.Service
	Providers *providers.Service
}

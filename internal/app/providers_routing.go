package app

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/google/wire"

	"github.com/ez-api/ez-api/internal/adapters/netguard"
	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/adapters/secretbox"
	"github.com/ez-api/ez-api/internal/core/bindings"
	"github.com/ez-api/ez-api/internal/core/changes"
	"github.com/ez-api/ez-api/internal/core/models"
	"github.com/ez-api/ez-api/internal/core/providers"
	"github.com/ez-api/ez-api/internal/ports"
)

// RoutingSet builds providers, models and bindings with the shared
// mutation recorder (audit + outbox in the change's transaction).
var RoutingSet = wire.NewSet(
	postgres.NewChangeRecorder, wire.Bind(new(ports.ChangeRecorder), new(*postgres.ChangeRecorder)),
	postgres.NewProviderRepository, wire.Bind(new(ports.ProviderRepository), new(*postgres.ProviderRepository)),
	postgres.NewRouteGroupRepository, wire.Bind(new(ports.RouteGroupRepository), new(*postgres.RouteGroupRepository)),
	postgres.NewModelRepository, wire.Bind(new(ports.ModelRepository), new(*postgres.ModelRepository)),
	postgres.NewBindingRepository, wire.Bind(new(ports.BindingRepository), new(*postgres.BindingRepository)),
	postgres.NewBindingResolutionRepository,
	wire.Bind(new(ports.BindingResolutionStore), new(*postgres.BindingResolutionRepository)),
	changes.NewMutator,
	ProvideSecretCipher,
	ProvideAddressGuard,
	ProvideProviderService,
	models.NewService,
	ProvideBindingService,
)

// ProvideSecretCipher builds the AES-256-GCM keyring from crypto.*; in
// development without a key it uses the fixed development key.
func ProvideSecretCipher(cfg Config, logger *slog.Logger) (ports.SecretCipher, error) {
	if cfg.Crypto.EncryptionKey == "" {
		// Validate() refuses this in production.
		logger.Warn("no crypto.encryption_key (EZ_ENCRYPTION_KEY): upstream keys are encrypted with the public development key")
		return secretbox.NewDevelopmentKeyring(), nil
	}
	k, err := secretbox.ParseKeyring(cfg.Crypto.EncryptionKey, uint32(cfg.Crypto.KeyVersion), cfg.Crypto.PreviousKeys)
	if err != nil {
		return nil, &ConfigError{Msg: fmt.Sprintf("crypto: %v", err)}
	}
	return k, nil
}

// ProvideAddressGuard checks upstream base URLs.
func ProvideAddressGuard(cfg Config) ports.AddressGuard {
	return netguard.New(cfg.Providers.PrivateNetworksAllowed(), nil, 2*time.Second)
}

// ProvideProviderService builds the providers use-case.
func ProvideProviderService(repo ports.ProviderRepository, groups ports.RouteGroupRepository, cipher ports.SecretCipher,
	guard ports.AddressGuard, mut *changes.Mutator, cfg Config) *providers.Service {
	return providers.NewService(repo, groups, cipher, guard, mut, secretbox.Mask, providers.Policy{MaxModels: cfg.Providers.MaxModels})
}

// ProvideBindingService builds the bindings use-case; a binding's own write
// resolves it within the publisher's budget.
func ProvideBindingService(repo ports.BindingRepository, models ports.ModelRepository, providers ports.ProviderRepository,
	groups ports.RouteGroupRepository, resolutions ports.BindingResolutionStore, mut *changes.Mutator, clock ports.Clock,
	cfg Config) *bindings.Service {
	return bindings.NewService(repo, models, providers, groups, resolutions, mut, clock,
		bindings.Policy{ResolveBudget: cfg.Sync.BindingResolveBudget})
}

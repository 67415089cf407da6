package app

import (
	"log/slog"

	"github.com/google/wire"

	"github.com/ez-api/ez-api/internal/adapters/jwtcodec"
	"github.com/ez-api/ez-api/internal/adapters/passwords"
	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/core/auth"
	"github.com/ez-api/ez-api/internal/core/operators"
	"github.com/ez-api/ez-api/internal/core/servicetokens"
	"github.com/ez-api/ez-api/internal/ports"
)

// RepositorySet binds the PostgreSQL repositories to their ports.
var RepositorySet = wire.NewSet(
	postgres.NewTxRunner, wire.Bind(new(ports.TxRunner), new(*postgres.TxRunner)),
	postgres.NewAuditRepository, wire.Bind(new(ports.AuditRepository), new(*postgres.AuditRepository)),
	postgres.NewOperatorRepository, wire.Bind(new(ports.OperatorRepository), new(*postgres.OperatorRepository)),
	postgres.NewServiceTokenRepository, wire.Bind(new(ports.ServiceTokenRepository), new(*postgres.ServiceTokenRepository)),
	postgres.NewMasterCredentialRepository, wire.Bind(new(ports.MasterCredentialRepository), new(*postgres.MasterCredentialRepository)),
)

// AuthSet builds authentication, login and the credential use-cases.
var AuthSet = wire.NewSet(
	ProvidePasswordHasher,
	ProvideAccessTokenCodec,
	ProvideUsageBatcher,
	ProvideAuthManager,
	wire.Bind(new(ports.CredentialCache), new(*auth.Manager)),
	ProvideLoginService,
	operators.NewService,
	servicetokens.NewService,
)

// ProvidePasswordHasher is argon2id with the configured parameters.
func ProvidePasswordHasher(cfg Config) ports.PasswordHasher {
	p := passwords.DefaultParams()
	p.MemoryKiB = uint32(cfg.Auth.Argon2.MemoryKiB)
	p.Iterations = uint32(cfg.Auth.Argon2.Iterations)
	p.Parallelism = uint8(cfg.Auth.Argon2.Parallelism)
	return passwords.NewArgon2id(p)
}

// ProvideAccessTokenCodec is the HS256 JWT codec.
func ProvideAccessTokenCodec(cfg Config) ports.AccessTokenCodec {
	return jwtcodec.New(jwtcodec.Options{
		Secret:   []byte(cfg.Auth.JWTSecret),
		Issuer:   cfg.Auth.JWTIssuer,
		Audience: cfg.Auth.JWTAudience,
	})
}

// ProvideUsageBatcher batches service tokens' last_used_at writes.
func ProvideUsageBatcher(cfg Config, repo ports.ServiceTokenRepository, logger *slog.Logger) (ports.UsageRecorder, func()) {
	b := postgres.NewUsageBatcher(repo, cfg.Auth.LastUsedFlush, logger)
	return b, b.Close
}

// ProvideAuthManager registers the authenticators: operator JWT, service
// token, master token.
func ProvideAuthManager(cfg Config, clock ports.Clock, codec ports.AccessTokenCodec, ops ports.OperatorRepository,
	tokens ports.ServiceTokenRepository, usage ports.UsageRecorder, masters ports.MasterCredentialRepository) *auth.Manager {
	m := auth.NewManager(clock, cfg.Auth.CacheTTL)
	m.Register(auth.NewServiceTokenAuthenticator(tokens, usage, clock))
	m.Register(auth.NewMasterTokenAuthenticator(masters))
	m.Register(auth.NewJWTAuthenticator(codec, ops))
	return m
}

// ProvideLoginService builds operator login with its failure limits.
func ProvideLoginService(cfg Config, ops ports.OperatorRepository, hasher ports.PasswordHasher, codec ports.AccessTokenCodec,
	audit ports.AuditRepository, tx ports.TxRunner, clock ports.Clock) (*auth.LoginService, error) {
	return auth.NewLoginService(ops, hasher, codec, audit, tx, clock, auth.LoginPolicy{
		Limit: cfg.Auth.LoginMaxFailures, Window: cfg.Auth.LoginWindow, TokenTTL: cfg.Auth.JWTTTL,
		IPLimit: cfg.Auth.LoginIPMaxFailures, UserLimit: cfg.Auth.LoginUserMaxFailures, MaxBackoff: cfg.Auth.LoginMaxBackoff,
		MaxConcurrentHashes: cfg.Auth.Argon2.MaxConcurrent, HashWait: cfg.Auth.Argon2.QueueTimeout,
	})
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

var errBadCredential = fmt.Errorf("invalid credential: %w", domain.ErrUnauthenticated)

// unauthenticatedIfMissing turns "no such credential" into a 401 and keeps
// other failures (database down) as they are.
func unauthenticatedIfMissing(err error) error {
	if errors.Is(err, domain.ErrNotFound) {
		return errBadCredential
	}
	return err
}

// JWTAuthenticator accepts operator access tokens. The operator is loaded
// on each (uncached) use so a disabled or deleted operator's token stops
// working, and the role is the operator's current one.
type JWTAuthenticator struct {
	codec     ports.AccessTokenCodec
	operators ports.OperatorRepository
}

// NewJWTAuthenticator builds the operator authenticator.
func NewJWTAuthenticator(codec ports.AccessTokenCodec, operators ports.OperatorRepository) *JWTAuthenticator {
	return &JWTAuthenticator{codec: codec, operators: operators}
}

// Name implements ports.Authenticator.
func (a *JWTAuthenticator) Name() string { return "jwt" }

// Accepts implements ports.Authenticator: three dot-separated segments.
func (a *JWTAuthenticator) Accepts(c string) bool {
	return strings.Count(c, ".") == 2 && !strings.HasPrefix(c, string(domain.TokenService)) &&
		!strings.HasPrefix(c, string(domain.TokenMaster))
}

// Authenticate implements ports.Authenticator.
func (a *JWTAuthenticator) Authenticate(ctx context.Context, c string) (domain.Principal, error) {
	tok, err := a.codec.Verify(c)
	if err != nil {
		return domain.Principal{}, err
	}
	op, err := a.operators.Get(ctx, tok.Subject)
	if err != nil {
		return domain.Principal{}, unauthenticatedIfMissing(err)
	}
	// A token issued before the operator's last password change, disable
	// or "log out everywhere" carries an older version.
	if op.Status != domain.OperatorActive || tok.Version != op.TokenVersion {
		return domain.Principal{}, errBadCredential
	}
	return domain.Principal{
		Kind: domain.PrincipalOperator, ID: op.ID, Name: op.Username, Role: op.Role, ExpiresAt: tok.ExpiresAt,
	}, nil
}

// ServiceTokenAuthenticator accepts st- tokens.
type ServiceTokenAuthenticator struct {
	tokens ports.ServiceTokenRepository
	usage  ports.UsageRecorder
	clock  ports.Clock
}

// NewServiceTokenAuthenticator builds the service token authenticator.
func NewServiceTokenAuthenticator(tokens ports.ServiceTokenRepository, usage ports.UsageRecorder, clock ports.Clock) *ServiceTokenAuthenticator {
	return &ServiceTokenAuthenticator{tokens: tokens, usage: usage, clock: clock}
}

// Name implements ports.Authenticator.
func (a *ServiceTokenAuthenticator) Name() string { return "service_token" }

// Accepts implements ports.Authenticator.
func (a *ServiceTokenAuthenticator) Accepts(c string) bool {
	return strings.HasPrefix(c, string(domain.TokenService))
}

// Authenticate implements ports.Authenticator: lookup by sha256, then
// revocation and expiry.
func (a *ServiceTokenAuthenticator) Authenticate(ctx context.Context, c string) (domain.Principal, error) {
	if !domain.WellFormedToken(c, domain.TokenService) {
		return domain.Principal{}, errBadCredential
	}
	t, err := a.tokens.GetByHash(ctx, domain.HashToken(c))
	if err != nil {
		return domain.Principal{}, unauthenticatedIfMissing(err)
	}
	now := a.clock.Now()
	if t.Status(now) != "active" {
		return domain.Principal{}, errBadCredential
	}
	a.usage.Touch(t.ID, now)
	p := domain.Principal{Kind: domain.PrincipalServiceToken, ID: t.ID, Name: t.Name, Role: t.Role}
	if t.ExpiresAt != nil {
		p.ExpiresAt = *t.ExpiresAt
	}
	return p, nil
}

// MasterTokenAuthenticator accepts mk- tokens: a tenant, role user, scoped
// to its own master id.
type MasterTokenAuthenticator struct {
	masters ports.MasterCredentialRepository
}

// NewMasterTokenAuthenticator builds the master token authenticator.
func NewMasterTokenAuthenticator(masters ports.MasterCredentialRepository) *MasterTokenAuthenticator {
	return &MasterTokenAuthenticator{masters: masters}
}

// Name implements ports.Authenticator.
func (a *MasterTokenAuthenticator) Name() string { return "master_token" }

// Accepts implements ports.Authenticator.
func (a *MasterTokenAuthenticator) Accepts(c string) bool {
	return strings.HasPrefix(c, string(domain.TokenMaster))
}

// Authenticate implements ports.Authenticator; a suspended master's token
// does not work.
func (a *MasterTokenAuthenticator) Authenticate(ctx context.Context, c string) (domain.Principal, error) {
	if !domain.WellFormedToken(c, domain.TokenMaster) {
		return domain.Principal{}, errBadCredential
	}
	m, err := a.masters.GetByTokenHash(ctx, domain.HashToken(c))
	if err != nil {
		return domain.Principal{}, unauthenticatedIfMissing(err)
	}
	if m.Status != domain.MasterActive {
		return domain.Principal{}, errBadCredential
	}
	return domain.Principal{Kind: domain.PrincipalMaster, ID: m.MasterID, Name: m.Name, Role: domain.RoleUser, MasterID: m.MasterID}, nil
}

package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// LoginPolicy is the login failure limit: Limit failures per Window for one
// username and, separately, for one client IP.
type LoginPolicy struct {
	Limit  int
	Window time.Duration
	// TokenTTL is how long an access token is valid.
	TokenTTL time.Duration
}

// Session is the outcome of a login.
type Session struct {
	AccessToken string
	ExpiresAt   time.Time
}

// LoginService checks operator passwords and issues access tokens.
type LoginService struct {
	operators ports.OperatorRepository
	hasher    ports.PasswordHasher
	codec     ports.AccessTokenCodec
	audit     ports.AuditRepository
	tx        ports.TxRunner
	clock     ports.Clock
	policy    LoginPolicy
	byUser    *Throttle
	byIP      *Throttle
	// dummyHash is verified against when the user does not exist, so the
	// answer takes as long either way. It is made on the first login, not
	// at start: one argon2id hash takes auth.argon2.memory_kib (19 MiB by
	// default), which an idle replica should not carry.
	dummyOnce sync.Once
	dummyHash string
	dummyErr  error
}

// NewLoginService builds the login use-case.
func NewLoginService(operators ports.OperatorRepository, hasher ports.PasswordHasher, codec ports.AccessTokenCodec,
	audit ports.AuditRepository, tx ports.TxRunner, clock ports.Clock, policy LoginPolicy) (*LoginService, error) {
	return &LoginService{
		operators: operators, hasher: hasher, codec: codec, audit: audit, tx: tx, clock: clock, policy: policy,
		byUser: NewThrottle(policy.Limit, policy.Window), byIP: NewThrottle(policy.Limit, policy.Window),
	}, nil
}

func (s *LoginService) dummy() (string, error) {
	s.dummyOnce.Do(func() {
		s.dummyHash, s.dummyErr = s.hasher.Hash("dummy password for timing equalisation")
		if s.dummyErr != nil {
			s.dummyErr = fmt.Errorf("prepare login: %w", s.dummyErr)
		}
	})
	return s.dummyHash, s.dummyErr
}

// errLoginFailed is the one answer for a wrong username or password.
var errLoginFailed = fmt.Errorf("invalid username or password: %w", domain.ErrUnauthenticated)

// Login verifies username and password and returns an access token.
func (s *LoginService) Login(ctx context.Context, username, password string) (Session, error) {
	now := s.clock.Now()
	userKey := strings.ToLower(username)
	ip := domain.RequestMetaFrom(ctx).ClientIP
	if blocked, wait := s.byUser.Blocked(userKey, now); blocked {
		return Session{}, &domain.RateLimitedError{Reason: "too many failed logins", RetryAfter: wait}
	}
	if blocked, wait := s.byIP.Blocked(ip, now); blocked {
		return Session{}, &domain.RateLimitedError{Reason: "too many failed logins", RetryAfter: wait}
	}

	op, err := s.operators.GetByUsername(ctx, username)
	exists := err == nil
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return Session{}, err
	}
	var hash string
	if exists {
		hash = op.PasswordHash
	} else if hash, err = s.dummy(); err != nil {
		return Session{}, err
	}
	ok, verr := s.hasher.Verify(password, hash)
	if !exists || verr != nil || !ok || op.Status != domain.OperatorActive {
		s.byUser.Fail(userKey, now)
		s.byIP.Fail(ip, now)
		resID := ""
		if exists {
			resID = strconv.FormatInt(op.ID, 10)
		}
		e := domain.NewAuditEntry(ctx, now, "auth.login_failed", "operator", resID, map[string]any{"known_user": exists})
		if err := s.audit.Record(ctx, e); err != nil {
			return Session{}, err
		}
		return Session{}, errLoginFailed
	}

	s.byUser.Reset(userKey)
	exp := now.Add(s.policy.TokenTTL)
	token, err := s.codec.Issue(domain.AccessToken{
		ID: uuid.NewString(), Subject: op.ID, Role: op.Role, IssuedAt: now, ExpiresAt: exp,
	})
	if err != nil {
		return Session{}, fmt.Errorf("issue access token: %w", err)
	}
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.operators.TouchLogin(ctx, op.ID, now); err != nil {
			return err
		}
		actx := domain.WithPrincipal(ctx, domain.Principal{Kind: domain.PrincipalOperator, ID: op.ID, Role: op.Role})
		return s.audit.Record(ctx, domain.NewAuditEntry(actx, now, "auth.login", "operator", strconv.FormatInt(op.ID, 10), nil))
	})
	if err != nil {
		return Session{}, err
	}
	return Session{AccessToken: token, ExpiresAt: exp}, nil
}

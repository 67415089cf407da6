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

// LoginPolicy is the login failure policy (docs/security.md, "Login
// throttling"): Limit failures per Window for one (username, client IP)
// pair, so an attacker elsewhere cannot lock a user out; IPLimit failures
// per Window for one client IP whatever the username; UserLimit failures
// per Window for one username from every address together, a much higher
// ceiling against distributed guessing whose lockout doubles on each repeat
// up to MaxBackoff.
type LoginPolicy struct {
	Limit      int
	Window     time.Duration
	IPLimit    int
	UserLimit  int
	MaxBackoff time.Duration
	// MaxConcurrentHashes bounds password checks running at once (each
	// argon2id check holds its memory cost); a login that finds every slot
	// taken for HashWait answers 429 with Retry-After.
	MaxConcurrentHashes int
	HashWait            time.Duration
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
	byPair    *Throttle
	byUser    *Throttle
	byIP      *Throttle
	hashSlots chan struct{}
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
	policy.IPLimit = max(policy.IPLimit, policy.Limit)
	policy.UserLimit = max(policy.UserLimit, policy.Limit)
	policy.MaxConcurrentHashes = max(policy.MaxConcurrentHashes, 1)
	return &LoginService{
		operators: operators, hasher: hasher, codec: codec, audit: audit, tx: tx, clock: clock, policy: policy,
		byPair:    NewThrottle(policy.Limit, policy.Window),
		byUser:    NewThrottle(policy.UserLimit, policy.Window).WithBackoff(policy.MaxBackoff),
		byIP:      NewThrottle(policy.IPLimit, policy.Window),
		hashSlots: make(chan struct{}, policy.MaxConcurrentHashes),
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
	// Count the attempt before checking the password: concurrent guesses
	// each take one of the allowed attempts, so none slips past the limit.
	var held []*Reservation
	cancelAll := func() {
		for _, r := range held {
			r.Cancel()
		}
	}
	for _, th := range []struct {
		t   *Throttle
		key string
	}{{s.byPair, userKey + "\x00" + ip}, {s.byUser, userKey}, {s.byIP, ip}} {
		r, wait, ok := th.t.Reserve(th.key, now)
		if !ok {
			cancelAll()
			return Session{}, &domain.RateLimitedError{Reason: "too many failed logins", RetryAfter: wait}
		}
		held = append(held, r)
	}

	op, err := s.operators.GetByUsername(ctx, username)
	exists := err == nil
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		cancelAll()
		return Session{}, err
	}
	var hash string
	if exists {
		hash = op.PasswordHash
	} else if hash, err = s.dummy(); err != nil {
		cancelAll()
		return Session{}, err
	}
	ok, verr := s.verify(ctx, password, hash)
	if errors.Is(verr, errHashBusy) {
		cancelAll()
		return Session{}, &domain.RateLimitedError{Reason: "too many logins in progress", RetryAfter: time.Second}
	}
	if !exists || verr != nil || !ok || op.Status != domain.OperatorActive {
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

	cancelAll()
	s.byPair.Reset(userKey + "\x00" + ip)
	exp := now.Add(s.policy.TokenTTL)
	token, err := s.codec.Issue(domain.AccessToken{
		ID: uuid.NewString(), Subject: op.ID, Role: op.Role, IssuedAt: now, ExpiresAt: exp, Version: op.TokenVersion,
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

// errHashBusy says no password-check slot freed up in time.
var errHashBusy = errors.New("password checks busy")

// verify checks password against hash in one of the bounded hash slots.
func (s *LoginService) verify(ctx context.Context, password, hash string) (bool, error) {
	select {
	case s.hashSlots <- struct{}{}:
	default:
		timer := time.NewTimer(s.policy.HashWait)
		defer timer.Stop()
		select {
		case s.hashSlots <- struct{}{}:
		case <-timer.C:
			return false, errHashBusy
		case <-ctx.Done():
			return false, errHashBusy
		}
	}
	defer func() { <-s.hashSlots }()
	return s.hasher.Verify(password, hash)
}

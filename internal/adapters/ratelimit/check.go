package ratelimit

import (
	"context"
	"strings"
)

// Limiter applies every matching rule to a request.
type Limiter struct {
	rules    []Rule
	backend  Backend
	fallback *Memory
	replicas int
	// OnFallback and OnReject feed the metrics (may be nil).
	OnFallback func()
	OnReject   func(rule string)
	// ownRule lists the roles with a principal rule of their own: the
	// general principal rules skip them.
	ownRule map[string]bool
}

// New builds a limiter; replicas scales the local fallback (limit ÷ replicas).
func New(rules []Rule, backend Backend, replicas int) *Limiter {
	l := &Limiter{rules: rules, backend: backend, fallback: NewMemory(), replicas: max(replicas, 1), ownRule: map[string]bool{}}
	for _, r := range rules {
		if r.Role != "" && r.Scope == ScopePrincipal {
			l.ownRule[r.Role] = true
		}
	}
	return l
}

// Subject is what a request is limited by.
type Subject struct {
	IP        string // already reduced to the /64 for IPv6
	Principal string // "" when unauthenticated
	Endpoint  string // method and route template
	// Role is the principal's role ("" when unauthenticated).
	Role string
	// Probe marks health and metrics endpoints: only rules whose Match
	// names them apply (a load balancer's checks all come from one address).
	Probe bool
}

// Check returns the most restrictive verdict of the rules that apply, and
// the name of the rule that refused (if any).
func (l *Limiter) Check(ctx context.Context, s Subject) (Decision, string) {
	var worst *Decision
	refused := ""
	for _, r := range l.rules {
		if r.Match != "" && !strings.HasPrefix(endpointPath(s.Endpoint), r.Match) {
			continue
		}
		if r.Match == "" && s.Probe {
			continue
		}
		if r.Role != "" && r.Role != s.Role {
			continue
		}
		if r.Role == "" && r.Scope == ScopePrincipal && l.ownRule[s.Role] {
			continue
		}
		var key string
		switch r.Scope {
		case ScopeIP:
			key = s.IP
		case ScopePrincipal:
			key = s.Principal
		case ScopeEndpoint:
			key = s.Endpoint
		}
		if key == "" {
			continue
		}
		d, err := l.backend.Allow(ctx, r, key)
		if err != nil {
			if l.OnFallback != nil {
				l.OnFallback()
			}
			local := r
			local.Limit = max(r.Limit/l.replicas, 1)
			local.Burst = max(r.Burst/l.replicas, 1)
			d, _ = l.fallback.Allow(ctx, local, key)
		}
		if !d.Allowed {
			if l.OnReject != nil {
				l.OnReject(r.Name)
			}
			return d, r.Name
		}
		if worst == nil || d.Remaining < worst.Remaining {
			dd := d
			worst = &dd
		}
	}
	if worst == nil {
		return Decision{Allowed: true}, refused
	}
	return *worst, refused
}

func endpointPath(endpoint string) string {
	_, p, _ := strings.Cut(endpoint, " ")
	return p
}

package domain

import (
	"context"
	"time"
)

// Role is what a principal may do; see Grants for the permission table.
type Role string

// Roles: the seed's four (admin, developer, viewer, user) plus balancer.
const (
	RoleAdmin     Role = "admin"
	RoleDeveloper Role = "developer"
	RoleViewer    Role = "viewer"
	RoleUser      Role = "user"
	RoleBalancer  Role = "balancer"
)

// PrincipalKind tells which credential authenticated a request.
type PrincipalKind string

// Principal kinds.
const (
	PrincipalOperator     PrincipalKind = "operator"
	PrincipalServiceToken PrincipalKind = "service_token"
	PrincipalMaster       PrincipalKind = "master"
)

// Principal is who is calling: resolved once per request by the auth
// manager and carried in the context to the use-cases.
type Principal struct {
	Kind PrincipalKind
	ID   int64
	Name string
	Role Role
	// MasterID is set for master principals: everything they touch is scoped to it.
	MasterID int64
	// ExpiresAt is when the credential stops being valid (zero: never).
	ExpiresAt time.Time
}

// IsMaster reports whether the principal is a tenant acting for itself.
func (p Principal) IsMaster() bool { return p.Kind == PrincipalMaster }

// Actor names the principal in audit entries ("operator", 7).
func (p Principal) Actor() Actor { return Actor{Type: string(p.Kind), ID: p.ID} }

// AccessToken is what an operator JWT asserts.
type AccessToken struct {
	ID        string // jti
	Subject   int64  // operator id
	Role      Role
	IssuedAt  time.Time
	ExpiresAt time.Time
	// Version is the operator's token version at issue time.
	Version int64
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the request's principal, if authenticated.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// RequestMeta is what the transport knows about a request, for audit entries.
type RequestMeta struct {
	RequestID string
	ClientIP  string
}

type metaKey struct{}

// WithRequestMeta returns ctx carrying m.
func WithRequestMeta(ctx context.Context, m RequestMeta) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

// RequestMetaFrom returns the request metadata (zero outside a request).
func RequestMetaFrom(ctx context.Context) RequestMeta {
	m, _ := ctx.Value(metaKey{}).(RequestMeta)
	return m
}

package domain

import (
	"context"
	"time"
)

// Actor is who made a change: an operator, a service token, a master, or
// the system itself (type "system", id 0).
type Actor struct {
	Type string
	ID   int64
}

// AuditEntry records one mutation or security event. Changes never hold a
// secret: callers pass redacted values.
type AuditEntry struct {
	ID           int64
	At           time.Time
	Actor        Actor
	Action       string // e.g. "operator.create", "auth.login_failed"
	ResourceType string
	ResourceID   string
	Changes      map[string]any
	RequestID    string
	ClientIP     string
}

// Redacted is what audit entries show in place of a secret.
const Redacted = "[redacted]"

// NewAuditEntry builds an entry for the request in ctx: the principal as
// actor (system when there is none), request id and client ip.
func NewAuditEntry(ctx context.Context, at time.Time, action, resourceType, resourceID string, changes map[string]any) AuditEntry {
	actor := Actor{Type: "system"}
	if p, ok := PrincipalFrom(ctx); ok {
		actor = p.Actor()
	}
	meta := RequestMetaFrom(ctx)
	return AuditEntry{
		At: at, Actor: actor, Action: action,
		ResourceType: resourceType, ResourceID: resourceID, Changes: changes,
		RequestID: meta.RequestID, ClientIP: meta.ClientIP,
	}
}

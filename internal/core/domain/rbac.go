package domain

// Permission is what an operation requires: "<resource>:<action>", or one of
// PermissionPublic / PermissionAuthenticated. Each operation declares its
// permission once, as x-permission in openapi.yaml.
type Permission string

// Special permissions.
const (
	// PermissionPublic needs no credential.
	PermissionPublic Permission = "public"
	// PermissionAuthenticated needs any valid credential.
	PermissionAuthenticated Permission = "authenticated"
)

// Grants is the role → permission table (DESIGN.md §7). Masters (role user)
// get their resource permissions scoped to their own master id by the
// use-cases: they see other tenants' objects as not found.
var Grants = map[Role][]Permission{
	RoleAdmin: {
		"providers:read", "providers:write", "models:read", "models:write",
		"bindings:read", "bindings:write", "masters:read", "masters:write",
		"keys:read", "keys:write", "features:read", "features:write",
		"sync:read", "sync:write", "logs:read", "stats:read",
		"operators:read", "operators:write", "service_tokens:read", "service_tokens:write",
		"audit:read", "import:write",
	},
	RoleDeveloper: {
		"providers:read", "providers:write", "models:read", "models:write",
		"bindings:read", "bindings:write", "masters:read", "keys:read",
		"features:read", "sync:read", "logs:read", "stats:read",
	},
	RoleViewer: {
		"providers:read", "models:read", "bindings:read", "masters:read", "keys:read",
		"features:read", "sync:read", "logs:read", "stats:read",
	},
	RoleUser: {
		"models:read", "masters:read", "keys:read", "keys:write", "logs:read", "stats:read",
	},
	RoleBalancer: {
		"logs:ingest", "balancers:heartbeat",
	},
}

var grantSet = func() map[Role]map[Permission]bool {
	out := make(map[Role]map[Permission]bool, len(Grants))
	for role, perms := range Grants {
		out[role] = make(map[Permission]bool, len(perms))
		for _, p := range perms {
			out[role][p] = true
		}
	}
	return out
}()

// Allows reports whether role may use an operation requiring perm.
func (r Role) Allows(perm Permission) bool {
	switch perm {
	case PermissionPublic, PermissionAuthenticated:
		return true
	}
	return grantSet[r][perm]
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	_, ok := Grants[r]
	return ok
}

// KnownPermission reports whether perm is granted to some role or special.
func KnownPermission(perm Permission) bool {
	if perm == PermissionPublic || perm == PermissionAuthenticated {
		return true
	}
	for _, set := range grantSet {
		if set[perm] {
			return true
		}
	}
	return false
}

package domain

import (
	"regexp"
	"time"
)

// OperatorStatus says whether an operator may log in.
type OperatorStatus string

// Operator statuses.
const (
	OperatorActive   OperatorStatus = "active"
	OperatorDisabled OperatorStatus = "disabled"
)

// Operator is a human who administers the gateway.
type Operator struct {
	ID           int64
	Username     string
	PasswordHash string
	Role         Role
	Status       OperatorStatus
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  *time.Time
	// TokenVersion is carried by every access token issued to the
	// operator; bumping it (password change, disable, log out everywhere)
	// invalidates every token issued before.
	TokenVersion int64
}

// Password length bounds.
const (
	MinPasswordLen = 12
	MaxPasswordLen = 1024
)

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$`)

// OperatorRoles are the roles an operator can hold.
var OperatorRoles = []Role{RoleAdmin, RoleDeveloper, RoleViewer}

// ValidOperatorRole reports whether r is an operator role.
func ValidOperatorRole(r Role) bool {
	return r == RoleAdmin || r == RoleDeveloper || r == RoleViewer
}

// ValidateUsername checks the username rule.
func ValidateUsername(u string) error {
	if !usernamePattern.MatchString(u) {
		return NewValidationError("username", "3–64 letters, digits, '.', '_' or '-', starting with a letter or digit")
	}
	return nil
}

// ValidatePassword checks the password length rule.
func ValidatePassword(p string) error {
	if n := len([]rune(p)); n < MinPasswordLen || len(p) > MaxPasswordLen {
		return NewValidationError("password", "must be 12 to 1024 characters")
	}
	return nil
}

// OperatorPatch lists the fields an update changes (nil: unchanged).
type OperatorPatch struct {
	Password *string
	Role     *Role
	Status   *OperatorStatus
}

// ServiceToken is a role-bound credential for automation and balancers.
type ServiceToken struct {
	ID         int64
	Name       string
	Role       Role
	TokenHash  string
	Prefix     string
	CreatedAt  time.Time
	CreatedBy  *int64
	ExpiresAt  *time.Time
	RevokedAt  *time.Time
	LastUsedAt *time.Time
}

// ValidServiceTokenRole reports whether r is a role a service token can hold.
func ValidServiceTokenRole(r Role) bool {
	return r == RoleAdmin || r == RoleDeveloper || r == RoleViewer || r == RoleBalancer
}

// Status derives active/expired/revoked at time now.
func (t ServiceToken) Status(now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case t.ExpiresAt != nil && !now.Before(*t.ExpiresAt):
		return "expired"
	default:
		return "active"
	}
}

// MasterStatus says whether a tenant's credentials work.
type MasterStatus string

// Master statuses.
const (
	MasterActive    MasterStatus = "active"
	MasterSuspended MasterStatus = "suspended"
)

// MasterCredential is what authenticating a master token needs.
type MasterCredential struct {
	MasterID int64
	Name     string
	Status   MasterStatus
}

// Page is a cursor-paginated request.
type Page struct {
	Limit int
	// After is the last id of the previous page (0: first page).
	After int64
}

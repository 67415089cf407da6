package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// Authenticator resolves a credential to a principal (the core auth manager).
type Authenticator interface {
	Authenticate(ctx context.Context, credential string) (domain.Principal, error)
}

// PermissionTable maps "METHOD /echo/route/:param" to the permission the
// operation declares as x-permission in openapi.yaml: the one place where
// permissions are written down.
type PermissionTable map[string]domain.Permission

// permissionExtension is the openapi.yaml extension naming an operation's permission.
const permissionExtension = "x-permission"

// Permissions reads every operation's x-permission. An operation without
// one, or with one no role knows, is an error: the table must be complete.
func Permissions(spec *openapi3.T) (PermissionTable, error) {
	table := PermissionTable{}
	var problems []string
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			raw, ok := op.Extensions[permissionExtension]
			perm, isString := raw.(string)
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("%s %s (%s) has no %s", method, path, op.OperationID, permissionExtension))
				continue
			case !isString || !domain.KnownPermission(domain.Permission(perm)):
				problems = append(problems, fmt.Sprintf("%s %s (%s) has unknown %s %v", method, path, op.OperationID, permissionExtension, raw))
				continue
			}
			table[method+" "+echoPath(path)] = domain.Permission(perm)
		}
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return table, nil
}

// echoPath turns /admin/operators/{id} into Echo's /admin/operators/:id.
func echoPath(p string) string {
	var b strings.Builder
	for _, seg := range strings.Split(p, "/") {
		if b.Len() > 0 || seg != "" {
			b.WriteByte('/')
		}
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			seg = ":" + seg[1:len(seg)-1]
		}
		b.WriteString(seg)
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// unauthorized is the one answer to every credential problem, whatever the
// reason, so the response tells an attacker nothing.
func unauthorized() error {
	return &ProblemError{
		Status: http.StatusUnauthorized,
		Detail: "A valid credential is required.",
		Header: http.Header{"WWW-Authenticate": {`Bearer realm="ezapi"`}},
	}
}

// credential extracts the credential from `Authorization: Bearer …` or
// `X-API-Key`. ok is false when a header is present but malformed.
func credential(r *http.Request) (string, bool) {
	if h := r.Header.Get(echo.HeaderAuthorization); h != "" {
		scheme, cred, found := strings.Cut(h, " ")
		if !found || !strings.EqualFold(scheme, "Bearer") || cred == "" || strings.ContainsAny(cred, " \t") {
			return "", false
		}
		return cred, true
	}
	if k := r.Header.Get("X-API-Key"); k != "" {
		if strings.ContainsAny(k, " \t") {
			return "", false
		}
		return k, true
	}
	return "", false
}

// authMiddleware authenticates the caller of every non-public operation,
// checks the operation's permission against the principal's role, and puts
// the principal in the request context for the use-cases.
func authMiddleware(table PermissionTable, authn Authenticator) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			perm, ok := table[c.Request().Method+" "+c.Path()]
			if !ok || perm == domain.PermissionPublic {
				// Public, or outside the contract (validation answers 404/405).
				// Health endpoints show details to a valid credential.
				if cred, present := credential(c.Request()); present && ok && optionalAuthPaths[c.Path()] {
					if p, err := authn.Authenticate(c.Request().Context(), cred); err == nil {
						c.SetRequest(c.Request().WithContext(domain.WithPrincipal(c.Request().Context(), p)))
					}
				}
				return next(c)
			}
			cred, ok := credential(c.Request())
			if !ok {
				return unauthorized()
			}
			p, err := authn.Authenticate(c.Request().Context(), cred)
			if err != nil {
				if errors.Is(err, domain.ErrUnauthenticated) {
					return unauthorized()
				}
				return err
			}
			if !p.Role.Allows(perm) {
				return &ProblemError{Status: http.StatusForbidden,
					Detail: fmt.Sprintf("Role %s does not grant %s.", p.Role, perm)}
			}
			c.SetRequest(c.Request().WithContext(domain.WithPrincipal(c.Request().Context(), p)))
			return next(c)
		}
	}
}

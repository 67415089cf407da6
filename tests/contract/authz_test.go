package contract_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/httpapi"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// designAccess is DESIGN.md §7's table, written out independently of the
// implementation: area → role → "rw", "r", "own-r", "own-rw" or "ingest".
var designAccess = map[string]map[domain.Role]string{
	"providers":      {domain.RoleAdmin: "rw", domain.RoleDeveloper: "rw", domain.RoleViewer: "r"},
	"models":         {domain.RoleAdmin: "rw", domain.RoleDeveloper: "rw", domain.RoleViewer: "r", domain.RoleUser: "r"},
	"bindings":       {domain.RoleAdmin: "rw", domain.RoleDeveloper: "rw", domain.RoleViewer: "r"},
	"masters":        {domain.RoleAdmin: "rw", domain.RoleDeveloper: "r", domain.RoleViewer: "r", domain.RoleUser: "own-r"},
	"keys":           {domain.RoleAdmin: "rw", domain.RoleDeveloper: "r", domain.RoleViewer: "r", domain.RoleUser: "own-rw"},
	"features":       {domain.RoleAdmin: "rw", domain.RoleDeveloper: "r", domain.RoleViewer: "r"},
	"sync":           {domain.RoleAdmin: "rw", domain.RoleDeveloper: "r", domain.RoleViewer: "r"},
	"logs":           {domain.RoleAdmin: "r", domain.RoleDeveloper: "r", domain.RoleViewer: "r", domain.RoleUser: "own-r", domain.RoleBalancer: "ingest"},
	"stats":          {domain.RoleAdmin: "r", domain.RoleDeveloper: "r", domain.RoleViewer: "r", domain.RoleUser: "own-r"},
	"balancers":      {domain.RoleBalancer: "ingest"},
	"operators":      {domain.RoleAdmin: "rw"},
	"service_tokens": {domain.RoleAdmin: "rw"},
	"audit":          {domain.RoleAdmin: "rw"},
	// POST /admin/import is admin-only (issue 17, DESIGN.md §5).
	"import": {domain.RoleAdmin: "rw"},
}

// designAllows answers from designAccess whether role may use perm.
func designAllows(t *testing.T, role domain.Role, perm domain.Permission) bool {
	t.Helper()
	if perm == domain.PermissionPublic || perm == domain.PermissionAuthenticated {
		return true
	}
	area, action, ok := strings.Cut(string(perm), ":")
	require.True(t, ok, "permission %q is area:action", perm)
	access, known := designAccess[area]
	require.True(t, known, "permission %q names an area DESIGN.md §7 does not have", perm)
	a := strings.TrimPrefix(access[role], "own-")
	switch action {
	case "read":
		return a == "r" || a == "rw"
	case "write":
		return a == "rw"
	case "ingest", "heartbeat":
		return a == "ingest"
	}
	t.Fatalf("unknown action in %q", perm)
	return false
}

func TestEveryOperationDeclaresAKnownPermission(t *testing.T) {
	t.Parallel()
	spec, err := testenv.LoadSpec()
	require.NoError(t, err)
	table, err := httpapi.Permissions(spec)
	require.NoError(t, err)
	n := 0
	for _, item := range spec.Paths.Map() {
		n += len(item.Operations())
	}
	assert.Len(t, table, n, "one entry per operation")
	// The code's grants agree with DESIGN.md §7 for every declared permission.
	for _, perm := range table {
		for role := range domain.Grants {
			assert.Equal(t, designAllows(t, role, perm), role.Allows(perm), "role %s, permission %s", role, perm)
		}
	}
}

func TestPermissionWalkCatchesABrokenTable(t *testing.T) {
	t.Parallel()
	t.Run("missing_permission", func(t *testing.T) {
		spec, err := testenv.LoadSpec()
		require.NoError(t, err)
		delete(spec.Paths.Value("/admin/operators").Post.Extensions, "x-permission")
		_, err = httpapi.Permissions(spec)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "createOperator")
	})
	t.Run("unknown_permission", func(t *testing.T) {
		spec, err := testenv.LoadSpec()
		require.NoError(t, err)
		spec.Paths.Value("/admin/operators").Get.Extensions["x-permission"] = "operators:peek"
		_, err = httpapi.Permissions(spec)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "listOperators")
	})
	t.Run("wrong_grant_is_caught_by_the_design_table", func(t *testing.T) {
		// A viewer allowed to write operators would contradict §7.
		assert.False(t, designAllows(t, domain.RoleViewer, "operators:write"))
		assert.False(t, designAllows(t, domain.RoleDeveloper, "service_tokens:read"))
		assert.True(t, designAllows(t, domain.RoleUser, "keys:write"))
	})
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// TestAuthorizationMatrix calls every operation in openapi.yaml as every kind
// of principal and checks 401/403/allowed against DESIGN.md §7. It is
// generated from the spec, so a new operation cannot skip it.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	admin := env.AdminToken(t)
	_, developer := env.CreateOperator(t, admin, "matrix-dev", apiclient.OperatorRoleDeveloper)
	_, viewer := env.CreateOperator(t, admin, "matrix-viewer", apiclient.OperatorRoleViewer)
	_, balancer := env.CreateServiceToken(t, admin, "matrix-balancer", apiclient.ServiceTokenRoleBalancer)
	masterID, master := env.CreateMaster(t, "matrix-tenant")
	// Another tenant's objects, for the "master acting on another master's
	// resource" column.
	otherMaster, otherToken := env.CreateMaster(t, "matrix-other-tenant")
	otherKey, err := env.Client.CreateKeyWithResponse(context.Background(), apiclient.CreateKeyJSONRequestBody{Name: "theirs"}, testenv.WithToken(otherToken))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, otherKey.StatusCode(), string(otherKey.Body))
	ownedBy := map[string]int64{"/keys/": otherKey.JSON201.Key.Id, "/admin/masters/": otherMaster}
	principals := []struct {
		role domain.Role
		cred string
	}{
		{domain.RoleAdmin, admin}, {domain.RoleDeveloper, developer}, {domain.RoleViewer, viewer},
		{domain.RoleUser, master}, {domain.RoleBalancer, balancer},
	}
	// logoutEverywhere ends the caller's sessions: it gets operators of its
	// own, so the shared admin (and every other test's token) survives.
	_, logoutAdmin := env.CreateOperator(t, admin, "matrix-logout-admin", apiclient.OperatorRoleAdmin)
	_, logoutDev := env.CreateOperator(t, admin, "matrix-logout-dev", apiclient.OperatorRoleDeveloper)
	_, logoutViewer := env.CreateOperator(t, admin, "matrix-logout-viewer", apiclient.OperatorRoleViewer)
	logoutPrincipals := []struct {
		role domain.Role
		cred string
	}{
		{domain.RoleAdmin, logoutAdmin}, {domain.RoleDeveloper, logoutDev}, {domain.RoleViewer, logoutViewer},
		{domain.RoleUser, master}, {domain.RoleBalancer, balancer},
	}

	spec, err := testenv.LoadSpec()
	require.NoError(t, err)
	paths := spec.Paths.InMatchingOrder()
	sort.Strings(paths)
	cells := 0
	var callURL func(url, cred string, payload []byte) int
	for _, path := range paths {
		for method, op := range spec.Paths.Value(path).Operations() {
			perm := domain.Permission(op.Extensions["x-permission"].(string))
			// A nonexistent id and an empty body: allowed callers get 400/404,
			// never a change, and denied callers never get past auth.
			url := env.BaseURL + pathParam.ReplaceAllString(path, "987654321")
			call := func(cred string) int { return callURL(url, cred, []byte(`{}`)) }
			callURL = func(url, cred string, payload []byte) int {
				var body *bytes.Reader
				if op.RequestBody != nil {
					body = bytes.NewReader(payload)
				}
				req, err := http.NewRequest(method, url, nil)
				if body != nil {
					req, err = http.NewRequest(method, url, body)
					req.Header.Set("Content-Type", "application/json")
				}
				require.NoError(t, err)
				if cred != "" {
					req.Header.Set("Authorization", "Bearer "+cred)
				}
				res, err := env.HTTP.Do(req)
				require.NoError(t, err)
				_ = res.Body.Close()
				return res.StatusCode
			}
			name := fmt.Sprintf("%s_%s", op.OperationID, perm)
			t.Run(name+"/no_credential", func(t *testing.T) {
				cells++
				got := call("")
				if perm == domain.PermissionPublic {
					assert.NotEqual(t, http.StatusUnauthorized, got)
				} else {
					assert.Equal(t, http.StatusUnauthorized, got)
				}
			})
			for prefix, id := range ownedBy {
				if !strings.HasPrefix(path, prefix) || !strings.Contains(path, "{id}") {
					continue
				}
				theirs := env.BaseURL + strings.Replace(path, "{id}", itoa(id), 1)
				// A valid body (the spec's example), so the request reaches the
				// ownership check instead of failing validation.
				example := []byte(`{}`)
				if op.RequestBody != nil {
					ex, err := json.Marshal(op.RequestBody.Value.Content.Get("application/json").Example)
					require.NoError(t, err)
					example = ex
				}
				t.Run(name+"/master_on_another_masters_object", func(t *testing.T) {
					cells++
					got := callURL(theirs, master, example)
					if designAllows(t, domain.RoleUser, perm) {
						assert.Equal(t, http.StatusNotFound, got, "no existence leak")
					} else {
						assert.Equal(t, http.StatusForbidden, got)
					}
				})
			}
			callers := principals
			if op.OperationID == "logoutEverywhere" {
				callers = logoutPrincipals
			}
			for _, p := range callers {
				t.Run(fmt.Sprintf("%s/%s", name, p.role), func(t *testing.T) {
					cells++
					got := call(p.cred)
					if designAllows(t, p.role, perm) {
						assert.NotContains(t, []int{401, 403}, got, "DESIGN.md §7 allows %s to %s", p.role, perm)
					} else {
						assert.Equal(t, http.StatusForbidden, got, "DESIGN.md §7 denies %s %s", p.role, perm)
					}
				})
			}
		}
	}
	t.Logf("authorization matrix: %d cells (operations × principals)", cells)

	// The master column once more, for every key-writing operation a master
	// may call, with a body that moves the key out of its master's route
	// group: allowed to write keys does not mean allowed to lift the
	// master's caps (issue 13 item 2; the full attack list is caps_test.go).
	opKey := rawJSON(t, env, http.MethodPost, "/admin/masters/"+itoa(masterID)+"/keys", admin, []byte(`{"name":"operator-issued"}`))
	require.Equal(t, http.StatusCreated, opKey.StatusCode)
	var issued apiclient.KeyCreated
	require.NoError(t, json.NewDecoder(opKey.Body).Decode(&issued))
	lifting := map[string]string{"createKey": `{"name":"lift","group":"premium"}`, "updateKey": `{"group":"premium"}`}
	for _, path := range paths {
		for method, op := range spec.Paths.Value(path).Operations() {
			body, ok := lifting[op.OperationID]
			if !ok {
				continue
			}
			t.Run(op.OperationID+"/master_lifting_caps", func(t *testing.T) {
				cells++
				url := strings.Replace(path, "{id}", itoa(issued.Key.Id), 1)
				p := problemOf(t, rawJSON(t, env, method, url, master, []byte(body)), http.StatusForbidden)
				require.NotNil(t, p.Errors)
				assert.Equal(t, "group", (*p.Errors)[0].Field)
			})
			delete(lifting, op.OperationID)
		}
	}
	assert.Empty(t, lifting, "operations named here must exist in the spec")
}

package contract_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

// TestMasterAndKeyNamespaces covers issue 17 item 4: masters and keys carry
// namespaces and a default namespace, a key only narrows its master's, and
// both reach the snapshot.
func TestMasterAndKeyNamespaces(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t)
	admin := env.AdminToken(t)

	p := problemOf(t, rawJSON(t, env, http.MethodPost, "/admin/masters", admin,
		[]byte(`{"name":"ns-bad","namespaces":["team-a"],"default_namespace":"default"}`)), http.StatusUnprocessableEntity)
	require.NotNil(t, p.Errors)
	assert.Equal(t, "default_namespace", (*p.Errors)[0].Field)

	res := rawJSON(t, env, http.MethodPost, "/admin/masters", admin,
		[]byte(`{"name":"ns-tenant","namespaces":["team-a","team-b"],"default_namespace":"team-b"}`))
	require.Equal(t, http.StatusCreated, res.StatusCode)
	var mc apiclient.MasterCreated
	require.NoError(t, json.NewDecoder(res.Body).Decode(&mc))
	assert.Equal(t, []string{"team-a", "team-b"}, mc.Master.Namespaces)
	assert.Equal(t, "team-b", mc.Master.DefaultNamespace)

	plain, _ := env.CreateMaster(t, "ns-plain")
	got, err := env.Client.GetMasterWithResponse(context.Background(), plain, testenv.WithToken(admin))
	require.NoError(t, err)
	assert.Equal(t, []string{}, got.JSON200.Namespaces, "empty means all")
	assert.Equal(t, "default", got.JSON200.DefaultNamespace)

	t.Run("key_outside_the_masters_namespaces_is_refused", func(t *testing.T) {
		p := problemOf(t, rawJSON(t, env, http.MethodPost, "/keys", mc.Token, []byte(`{"name":"x","namespaces":["team-c"]}`)),
			http.StatusUnprocessableEntity)
		require.NotNil(t, p.Errors)
		assert.Equal(t, "namespaces.0", (*p.Errors)[0].Field)
		p = problemOf(t, rawJSON(t, env, http.MethodPost, "/keys", mc.Token, []byte(`{"name":"x","namespaces":["team-a"],"default_namespace":"team-b"}`)),
			http.StatusUnprocessableEntity)
		require.NotNil(t, p.Errors)
		assert.Equal(t, "default_namespace", (*p.Errors)[0].Field)
	})

	var narrow apiclient.KeyCreated
	t.Run("keys_inherit_and_narrow", func(t *testing.T) {
		res := rawJSON(t, env, http.MethodPost, "/keys", mc.Token, []byte(`{"name":"inherits"}`))
		require.Equal(t, http.StatusCreated, res.StatusCode)
		var inherit apiclient.KeyCreated
		require.NoError(t, json.NewDecoder(res.Body).Decode(&inherit))
		assert.Equal(t, []string{}, inherit.Key.Namespaces)
		assert.Equal(t, "team-b", inherit.Key.DefaultNamespace)

		res = rawJSON(t, env, http.MethodPost, "/keys", mc.Token, []byte(`{"name":"narrow","namespaces":["team-a"]}`))
		require.Equal(t, http.StatusCreated, res.StatusCode)
		require.NoError(t, json.NewDecoder(res.Body).Decode(&narrow))
		assert.Equal(t, []string{"team-a"}, narrow.Key.Namespaces)
		assert.Equal(t, "team-a", narrow.Key.DefaultNamespace, "the master's default is outside the key's namespaces")

		rdb := env.Redis(t)
		type entry struct {
			Namespaces       []string `json:"namespaces"`
			DefaultNamespace string   `json:"default_namespace"`
		}
		read := func(token string) (entry, bool) {
			v, err := rdb.HGet(context.Background(), "auth:keys", sha256hex(token)).Result()
			if err != nil {
				return entry{}, false
			}
			var e entry
			require.NoError(t, json.Unmarshal([]byte(v), &e))
			return e, true
		}
		require.Eventually(t, func() bool { _, ok := read(narrow.Token); return ok }, 10*time.Second, 50*time.Millisecond)
		require.Eventually(t, func() bool { _, ok := read(inherit.Token); return ok }, 10*time.Second, 50*time.Millisecond)
		e, _ := read(inherit.Token)
		assert.Equal(t, entry{Namespaces: []string{"team-a", "team-b"}, DefaultNamespace: "team-b"}, e, "an inheriting key publishes its master's")
		e, _ = read(narrow.Token)
		assert.Equal(t, entry{Namespaces: []string{"team-a"}, DefaultNamespace: "team-a"}, e)

		mv, err := rdb.HGet(context.Background(), "config:masters", itoa(mc.Master.Id)).Result()
		require.NoError(t, err)
		assert.Contains(t, mv, `"namespaces":["team-a","team-b"],"default_namespace":"team-b"`)
	})

	t.Run("master_cannot_narrow_below_a_keys_namespaces", func(t *testing.T) {
		path := fmt.Sprintf("/admin/masters/%d", mc.Master.Id)
		p := problemOf(t, rawJSON(t, env, http.MethodPatch, path, admin, []byte(`{"namespaces":["team-b"]}`)), http.StatusConflict)
		require.NotNil(t, p.Detail)
		assert.Contains(t, *p.Detail, "team-a")
		var ns []byte
		require.NoError(t, env.DB.Get(&ns, `SELECT array_to_json(namespaces) FROM masters WHERE id = $1`, mc.Master.Id))
		assert.JSONEq(t, `["team-a","team-b"]`, string(ns), "the refused change wrote nothing")
		// Narrowing to what the key uses works and keeps the key inside it.
		res := rawJSON(t, env, http.MethodPatch, path, admin, []byte(`{"namespaces":["team-a"],"default_namespace":"team-a"}`))
		require.Equal(t, http.StatusOK, res.StatusCode)
	})
}

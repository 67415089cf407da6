package imports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

const samplePath = "../testdata/newapi-export.json"

// Tokens of the sample file, as New API stores them (without "sk-").
const (
	aliceActive    = "AliceActiveToken000000000000000000000000000000001"
	aliceExpired   = "AliceExpiredToken00000000000000000000000000000002"
	bobExhausted   = "BobExhaustedToken00000000000000000000000000000003"
	bobDisabled    = "BobDisabledToken000000000000000000000000000000004"
	orphanedCarol  = "CarolOrphanToken000000000000000000000000000000005"
	upstreamSecret = "sk-upstream-"
)

func setup(c *app.Config) {
	c.Sync.PollInterval = 50 * time.Millisecond
	c.Sync.ReconcileInterval = time.Second
	c.Sync.RetryMax = 200 * time.Millisecond
	allow := true // the sample's upstream hosts are not resolved in tests
	c.Providers.AllowPrivateNetworks = &allow
}

func importFile(t *testing.T, env *testenv.Env, admin string, body []byte, dryRun bool) apiclient.ImportReport {
	t.Helper()
	resp, err := env.Client.ImportExportWithBodyWithResponse(context.Background(), &apiclient.ImportExportParams{DryRun: &dryRun},
		"application/json", bytes.NewReader(body), testenv.WithToken(admin))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
	for _, secret := range []string{upstreamSecret, aliceActive, aliceExpired, bobExhausted, bobDisabled, orphanedCarol} {
		assert.NotContains(t, string(resp.Body), secret, "the report must not hold secrets")
	}
	return *resp.JSON200
}

func changeSeq(t *testing.T, env *testenv.Env) int64 {
	t.Helper()
	var v int64
	require.NoError(t, env.DB.Get(&v, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM config_change_seq`))
	return v
}

func counts(imported, existing, skipped int) apiclient.ImportCounts {
	return apiclient.ImportCounts{Imported: imported, Existing: existing, Skipped: skipped}
}

func decisionsOf(r apiclient.ImportReport, record string) []apiclient.ImportDecision {
	var out []apiclient.ImportDecision
	for _, d := range r.Decisions {
		if d.Record == record {
			out = append(out, d)
		}
	}
	return out
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestImportSampleFile(t *testing.T) {
	env := testenv.Start(t, setup)
	admin := env.AdminToken(t)
	rdb := env.Redis(t)
	ctx := context.Background()
	body, err := os.ReadFile(samplePath)
	require.NoError(t, err)

	// A dry run reports everything and writes nothing.
	before := changeSeq(t, env)
	dry := importFile(t, env, admin, body, true)
	assert.True(t, dry.DryRun)
	assert.Equal(t, counts(5, 0, 0), dry.Providers)
	assert.Equal(t, counts(4, 0, 3), dry.Keys)
	var n int
	require.NoError(t, env.DB.Get(&n, `SELECT count(*) FROM providers`))
	assert.Zero(t, n, "dry run wrote providers")
	require.NoError(t, env.DB.Get(&n, `SELECT count(*) FROM keys`))
	assert.Zero(t, n, "dry run wrote keys")
	assert.Equal(t, counts(3, 0, 1), dry.Bindings)
	require.NoError(t, env.DB.Get(&n, `SELECT (SELECT count(*) FROM models) + (SELECT count(*) FROM bindings)`))
	assert.Zero(t, n, "dry run wrote models or bindings")

	rep := importFile(t, env, admin, body, false)
	assert.False(t, rep.DryRun)
	assert.Equal(t, "newapi", rep.Source.Type)
	assert.Equal(t, counts(5, 0, 0), rep.Providers)
	assert.Equal(t, counts(2, 0, 0), rep.Masters)
	assert.Equal(t, counts(4, 0, 3), rep.Keys)
	assert.Equal(t, counts(3, 0, 1), rep.Bindings)
	assert.Len(t, rep.ExportWarnings, 2)
	assert.Greater(t, changeSeq(t, env), before)

	t.Run("reports_every_decision", func(t *testing.T) {
		multi := decisionsOf(rep, "providers[1]")
		require.NotEmpty(t, multi)
		assert.Contains(t, multi[0].Message, `multi-key channel "openai-main"`)
		groups := decisionsOf(rep, "providers[0]")
		assert.True(t, slices.ContainsFunc(groups, func(d apiclient.ImportDecision) bool {
			return d.Outcome == apiclient.ImportDecisionOutcomeWarning && strings.Contains(d.Message, "vip, enterprise")
		}), "extra groups are a warning: %+v", groups)
		suno := decisionsOf(rep, "providers[2]")
		assert.True(t, slices.ContainsFunc(suno, func(d apiclient.ImportDecision) bool {
			return d.Outcome == apiclient.ImportDecisionOutcomeImportedDisabled
		}), "%+v", suno)
		noPlain := decisionsOf(rep, "keys[2]")
		require.Len(t, noPlain, 1)
		assert.Equal(t, apiclient.ImportDecisionOutcomeSkipped, noPlain[0].Outcome)
		assert.Contains(t, noPlain[0].Message, "no plaintext")
		orphan := decisionsOf(rep, "keys[5]")
		require.Len(t, orphan, 1)
		assert.Contains(t, orphan[0].Message, `master "carol"`)
		ghost := decisionsOf(rep, "keys[0]")
		assert.True(t, slices.ContainsFunc(ghost, func(d apiclient.ImportDecision) bool {
			return d.Outcome == apiclient.ImportDecisionOutcomeMapped && strings.Contains(d.Message, `"ghost" is not one of master "alice"`)
		}), "a namespace the master lacks is dropped: %+v", ghost)
		elsewhere := decisionsOf(rep, "keys[6]")
		require.Len(t, elsewhere, 2)
		assert.Contains(t, elsewhere[0].Message, `"elsewhere" is not one of master "alice"`)
		assert.Equal(t, apiclient.ImportDecisionOutcomeSkipped, elsewhere[1].Outcome)
		assert.Contains(t, elsewhere[1].Message, "none of its namespaces")
		renamed := decisionsOf(rep, "masters[0]")
		assert.True(t, slices.ContainsFunc(renamed, func(d apiclient.ImportDecision) bool {
			return strings.Contains(d.Message, `"Team-A" imported as "team-a"`)
		}), "%+v", renamed)
		assert.False(t, slices.ContainsFunc(rep.Decisions, func(d apiclient.ImportDecision) bool {
			return strings.Contains(d.Message, "does not map")
		}))
		raised := decisionsOf(rep, "masters[1]")
		assert.True(t, slices.ContainsFunc(raised, func(d apiclient.ImportDecision) bool {
			return strings.Contains(d.Message, "raised to 2")
		}), "%+v", raised)
	})

	t.Run("client_tokens_authenticate_in_both_forms", func(t *testing.T) {
		want := map[string]string{aliceActive: "active", aliceExpired: "expired", bobExhausted: "exhausted", bobDisabled: "disabled"}
		for tok, status := range want {
			for _, form := range []string{"sk-" + tok, tok} {
				var v string
				require.Eventually(t, func() bool {
					v, err = rdb.HGet(ctx, "auth:keys", sha256hex(form)).Result()
					return err == nil
				}, 10*time.Second, 50*time.Millisecond, "auth:keys has no entry for %s…", form[:8])
				var entry struct {
					Status        string   `json:"status"`
					AllowedModels []string `json:"allowed_models"`
					AllowedIPs    []string `json:"allowed_ips"`
					ExpiresAt     int64    `json:"expires_at"`
					Namespaces    []string `json:"namespaces"`
					DefaultNS     string   `json:"default_namespace"`
				}
				require.NoError(t, json.Unmarshal([]byte(v), &entry))
				assert.Equal(t, status, entry.Status, form[:8])
				switch tok {
				case aliceActive:
					assert.Equal(t, []string{"default.gpt-4o", "default.gpt-4o-mini"}, entry.AllowedModels)
					assert.Equal(t, []string{"192.168.1.0/24", "10.0.0.7/32"}, entry.AllowedIPs)
					assert.Equal(t, []string{"default"}, entry.Namespaces, "narrowed to the master's")
					assert.Equal(t, "default", entry.DefaultNS)
				case aliceExpired:
					assert.Equal(t, []string{"default", "team-a"}, entry.Namespaces, "the master's")
				case bobExhausted:
					assert.Equal(t, []string{"vip.house-model"}, entry.AllowedModels, "in the key's default namespace")
					assert.Equal(t, []string{"vip"}, entry.Namespaces)
					assert.Equal(t, "vip", entry.DefaultNS)
				}
			}
		}
		n, err := rdb.HExists(ctx, "auth:keys", sha256hex("sk-"+orphanedCarol)).Result()
		require.NoError(t, err)
		assert.False(t, n)
	})

	t.Run("bindings_reach_redis_resolved", func(t *testing.T) {
		type candidate struct {
			RouteGroup    string            `json:"route_group"`
			Weight        int               `json:"weight"`
			SelectorType  string            `json:"selector_type"`
			SelectorValue string            `json:"selector_value"`
			Status        string            `json:"status"`
			Error         string            `json:"error"`
			Upstreams     map[string]string `json:"upstreams"`
		}
		type binding struct {
			Status     string      `json:"status"`
			Candidates []candidate `json:"candidates"`
		}
		var got map[string]string
		require.Eventually(t, func() bool {
			got, err = rdb.HGetAll(ctx, "config:bindings").Result()
			return err == nil && len(got) == 3
		}, 10*time.Second, 50*time.Millisecond, "config:bindings: %v", got)
		read := func(key string) binding {
			var b binding
			require.Contains(t, got, key)
			require.NoError(t, json.Unmarshal([]byte(got[key]), &b))
			return b
		}
		var openaiIDs []string
		require.NoError(t, env.DB.Select(&openaiIDs, `SELECT id::text FROM providers WHERE name LIKE 'openai-main%' ORDER BY id`))
		require.Len(t, openaiIDs, 2)

		gpt := read("default.gpt-4o")
		assert.Equal(t, "active", gpt.Status)
		require.Len(t, gpt.Candidates, 2, "the vip route group only had a disabled ability")
		assert.Equal(t, candidate{RouteGroup: "default", Weight: 1, SelectorType: "exact", SelectorValue: "gpt-4o",
			Status: "ok", Error: "", Upstreams: map[string]string{openaiIDs[0]: "gpt-4o", openaiIDs[1]: "gpt-4o"}},
			gpt.Candidates[0])
		assert.Equal(t, "enterprise", gpt.Candidates[1].RouteGroup)
		assert.Equal(t, "no_provider", gpt.Candidates[1].Error)

		house := read("vip.house-model")
		assert.Equal(t, "disabled", house.Status, "all its abilities were disabled")
		require.Len(t, house.Candidates, 1)
		assert.Equal(t, "no_provider", house.Candidates[0].Error, "its only provider is imported disabled")

		ds := read("team-a.deepseek-chat")
		assert.Equal(t, "active", ds.Status)

		var models []string
		require.NoError(t, env.DB.Select(&models, `SELECT namespace || '.' || name FROM models ORDER BY 1`))
		assert.Equal(t, []string{"default.gpt-4o", "team-a.deepseek-chat", "vip.house-model"}, models)

		d := decisionsOf(rep, "bindings[0],bindings[1],bindings[2],bindings[3]")
		assert.True(t, slices.ContainsFunc(d, func(d apiclient.ImportDecision) bool {
			return d.Outcome == apiclient.ImportDecisionOutcomeImported && strings.Contains(d.Message, "public model default.gpt-4o created")
		}), "%+v", d)
		assert.True(t, slices.ContainsFunc(d, func(d apiclient.ImportDecision) bool {
			return strings.Contains(d.Message, `route group "enterprise" weight 1 selector exact "gpt-4o": no_provider`)
		}), "the resolution is reported: %+v", d)
		assert.True(t, slices.ContainsFunc(d, func(d apiclient.ImportDecision) bool {
			return strings.Contains(d.Message, "route groups vip only had disabled abilities")
		}), "%+v", d)
		bad := decisionsOf(rep, "bindings[6]")
		require.Len(t, bad, 1)
		assert.Equal(t, apiclient.ImportDecisionOutcomeSkipped, bad[0].Outcome)
		assert.Contains(t, bad[0].Message, `namespace "VIP Users"`)
	})

	t.Run("unknown_types_never_reach_redis", func(t *testing.T) {
		var provs map[string]string
		require.Eventually(t, func() bool {
			provs, err = rdb.HGetAll(ctx, "config:providers").Result()
			return err == nil && len(provs) == 5
		}, 10*time.Second, 50*time.Millisecond)
		for _, v := range provs {
			var p struct {
				Name, Type, Status, BaseURL string `json:"-"`
			}
			var raw map[string]any
			require.NoError(t, json.Unmarshal([]byte(v), &raw))
			p.Name, p.Type, p.Status = raw["name"].(string), raw["type"].(string), raw["status"].(string)
			assert.NotContains(t, []string{"suno", "custom"}, p.Type, p.Name)
			switch p.Name {
			case "oneapi-deepseek", "mystery-channel":
				assert.Equal(t, "compatible", p.Type)
				assert.Equal(t, "disabled", p.Status, p.Name)
			case "moonshot":
				assert.Equal(t, "compatible", p.Type)
				assert.Equal(t, "https://api.moonshot.cn/v1", raw["base_url"])
			case "openai-main", "openai-main-2":
				assert.Equal(t, "openai", p.Type)
				assert.Equal(t, "active", p.Status)
			}
		}
	})

	t.Run("audit_log_holds_the_report_without_secrets", func(t *testing.T) {
		var changes []string
		require.NoError(t, env.DB.Select(&changes, `SELECT changes::text FROM audit_log WHERE action = 'import.apply'`))
		require.Len(t, changes, 1)
		assert.Contains(t, changes[0], "no plaintext")
		assert.Contains(t, changes[0], "binding default.gpt-4o (active, from 4 abilities)")
		for _, secret := range []string{upstreamSecret, aliceActive, bobDisabled} {
			assert.NotContains(t, changes[0], secret)
		}
	})

	t.Run("importing_again_changes_nothing", func(t *testing.T) {
		v := changeSeq(t, env)
		again := importFile(t, env, admin, body, false)
		assert.Equal(t, counts(0, 5, 0), again.Providers)
		assert.Equal(t, counts(0, 2, 0), again.Masters)
		assert.Equal(t, counts(0, 4, 3), again.Keys)
		assert.Equal(t, counts(0, 3, 1), again.Bindings)
		assert.Equal(t, v, changeSeq(t, env))
		require.NoError(t, env.DB.Get(&n, `SELECT count(*) FROM keys`))
		assert.Equal(t, 4, n)
	})

	t.Run("rotating_removes_both_old_forms", func(t *testing.T) {
		var id int64
		require.NoError(t, env.DB.Get(&id, `SELECT id FROM keys WHERE token_hash = $1`, sha256hex("sk-"+aliceExpired)))
		grace := int32(0)
		resp, err := env.Client.RotateKeyWithResponse(ctx, id, apiclient.RotateKeyJSONRequestBody{GraceSeconds: &grace},
			testenv.WithToken(admin))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode(), string(resp.Body))
		for _, form := range []string{"sk-" + aliceExpired, aliceExpired} {
			require.Eventually(t, func() bool {
				ok, err := rdb.HExists(ctx, "auth:keys", sha256hex(form)).Result()
				return err == nil && !ok
			}, 10*time.Second, 50*time.Millisecond)
		}
		var alias *string
		require.NoError(t, env.DB.Get(&alias, `SELECT alias_token_hash FROM keys WHERE id = $1`, id))
		assert.Nil(t, alias)
	})

	t.Run("revoking_removes_both_forms", func(t *testing.T) {
		var id int64
		require.NoError(t, env.DB.Get(&id, `SELECT id FROM keys WHERE token_hash = $1`, sha256hex("sk-"+bobDisabled)))
		resp, err := env.Client.RevokeKeyWithResponse(ctx, id, testenv.WithToken(admin))
		require.NoError(t, err)
		require.Less(t, resp.StatusCode(), 300, string(resp.Body))
		for _, form := range []string{"sk-" + bobDisabled, bobDisabled} {
			require.Eventually(t, func() bool {
				ok, err := rdb.HExists(ctx, "auth:keys", sha256hex(form)).Result()
				return err == nil && !ok
			}, 10*time.Second, 50*time.Millisecond)
		}
	})
}

func TestImportRejectsWhatIsNotAnExporterFile(t *testing.T) {
	env := testenv.Start(t, setup)
	admin := env.AdminToken(t)
	for name, tc := range map[string]struct {
		body   string
		status int
	}{
		"unknown_field":   {`{"version":"1.0.0","source":{"type":"newapi"},"data":{},"extra":1}`, http.StatusUnprocessableEntity},
		"missing_data":    {`{"version":"1.0.0","source":{"type":"newapi"}}`, http.StatusUnprocessableEntity},
		"not_json":        {`{"version":`, http.StatusBadRequest},
		"keys_not_a_list": {`{"version":"1.0.0","source":{"type":"newapi"},"data":{"keys":{}}}`, http.StatusBadRequest},
		"wrong_version":   {`{"version":"2.0.0","source":{"type":"newapi"},"data":{}}`, http.StatusUnprocessableEntity},
	} {
		t.Run(name, func(t *testing.T) {
			body := tc.body
			resp, err := env.Client.ImportExportWithBodyWithResponse(context.Background(), nil, "application/json",
				strings.NewReader(body), testenv.WithToken(admin))
			require.NoError(t, err)
			assert.Equal(t, tc.status, resp.StatusCode(), string(resp.Body))
			assert.Contains(t, resp.HTTPResponse.Header.Get("Content-Type"), "application/problem+json")
		})
	}
}

func TestImportIsForAdminsOnly(t *testing.T) {
	env := testenv.Start(t, setup)
	admin := env.AdminToken(t)
	body, err := os.ReadFile(samplePath)
	require.NoError(t, err)
	_, developer := env.CreateServiceToken(t, admin, "importer", apiclient.ServiceTokenRoleDeveloper)
	for name, tc := range map[string]struct {
		editors []apiclient.RequestEditorFn
		status  int
	}{
		"anonymous_is_401": {nil, http.StatusUnauthorized},
		"developer_is_403": {[]apiclient.RequestEditorFn{testenv.WithToken(developer)}, http.StatusForbidden},
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := env.Client.ImportExportWithBodyWithResponse(context.Background(), nil, "application/json",
				bytes.NewReader(body), tc.editors...)
			require.NoError(t, err)
			assert.Equal(t, tc.status, resp.StatusCode(), string(resp.Body))
		})
	}
}

// Keys imported under a master ezapi already has (matched case-insensitively)
// only narrow its namespaces.
func TestImportKeysNarrowAnExistingMaster(t *testing.T) {
	env := testenv.Start(t, setup)
	admin := env.AdminToken(t)
	id, _ := env.CreateMaster(t, "dora")
	_, err := env.DB.Exec(`UPDATE masters SET namespaces = '{vip,eu}', default_namespace = 'eu' WHERE id = $1`, id)
	require.NoError(t, err)
	const narrowed, inherited, outside = "DoraNarrowedToken00000000000000000000000000000001",
		"DoraInheritedToken0000000000000000000000000000002", "DoraOutsideToken000000000000000000000000000000003"
	body := []byte(`{"version": "1.0.0", "source": {"type": "newapi", "version": "x", "exported_at": "2025-01-01T00:00:00Z"},
  "data": {"masters": [{"name": "Dora", "group": "default", "status": "active", "_source_user_id": 9}], "keys": [
    {"master_ref": "dora", "original_token": "` + narrowed + `", "status": "active", "namespaces": ["vip", "other"],
     "model_limits_enabled": true, "model_limits": ["m1"], "_original_id": 1, "_token_plaintext_available": true},
    {"master_ref": "DORA", "original_token": "` + inherited + `", "status": "active", "model_limits_enabled": true,
     "model_limits": ["m2"], "_original_id": 2, "_token_plaintext_available": true},
    {"master_ref": "dora", "original_token": "` + outside + `", "status": "active", "namespaces": ["other"],
     "_original_id": 3, "_token_plaintext_available": true}]}}`)
	rep := importFile(t, env, admin, body, false)
	assert.Equal(t, counts(0, 1, 0), rep.Masters, "names are matched case-insensitively, as they are unique")
	assert.Equal(t, counts(2, 0, 1), rep.Keys)
	assert.Equal(t, apiclient.ImportDecisionOutcomeSkipped, decisionsOf(rep, "keys[2]")[1].Outcome)

	tests := []struct {
		token     string
		wantNS    []string
		wantDef   string
		wantModel string
	}{
		{token: narrowed, wantNS: []string{"vip"}, wantDef: "vip", wantModel: "vip.m1"},
		{token: inherited, wantNS: []string{}, wantDef: "eu", wantModel: "eu.m2"},
	}
	for _, tt := range tests {
		var row struct {
			Namespaces pq.StringArray `db:"namespaces"`
			Default    string         `db:"default_namespace"`
			Models     pq.StringArray `db:"allowed_models"`
		}
		require.NoError(t, env.DB.Get(&row, `SELECT namespaces, default_namespace, allowed_models FROM keys WHERE token_hash = $1`,
			sha256hex("sk-"+tt.token)))
		assert.Equal(t, tt.wantNS, []string(row.Namespaces), tt.token[:8])
		assert.Equal(t, tt.wantDef, row.Default, tt.token[:8])
		assert.Equal(t, []string{tt.wantModel}, []string(row.Models), tt.token[:8])
	}
}

package contract_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

func createProviderRaw(t *testing.T, env *testenv.Env, cred, body string) *http.Response {
	t.Helper()
	return rawJSON(t, env, http.MethodPost, "/providers", cred, []byte(body))
}

func decodeProvider(t *testing.T, res *http.Response) apiclient.Provider {
	t.Helper()
	require.Equal(t, http.StatusCreated, res.StatusCode)
	var p apiclient.Provider
	require.NoError(t, json.NewDecoder(res.Body).Decode(&p))
	return p
}

// TestProviderSecretDestination covers issue 13 item 7: a developer cannot
// send a provider's key to another host without supplying the key, and the
// audit records where base_url moved.
func TestProviderSecretDestination(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, func(c *app.Config) { c.Providers.AllowPrivateNetworks = new(bool) })
	admin := env.AdminToken(t)
	_, dev := env.CreateOperator(t, admin, "dest-dev", apiclient.OperatorRoleDeveloper)
	const secret = "sk-live-destination-0123456789abcdefghij"
	p := decodeProvider(t, createProviderRaw(t, env, admin,
		`{"name":"dest","type":"compatible","base_url":"https://8.8.8.8/v1","api_key":"`+secret+`","models":["m"]}`))
	path := fmt.Sprintf("/providers/%d", p.Id)

	var before string
	require.NoError(t, env.DB.Get(&before, `SELECT row_to_json(p)::text FROM providers p WHERE id = $1`, p.Id))
	for _, body := range []string{`{"base_url":"https://1.1.1.1/v1"}`, `{"base_url":"http://8.8.8.8/v1"}`, `{"base_url":"https://8.8.8.8:8443/v1"}`} {
		pr := problemOf(t, rawJSON(t, env, http.MethodPatch, path, dev, []byte(body)), http.StatusUnprocessableEntity)
		require.NotNil(t, pr.Errors, body)
		assert.Equal(t, "api_key", (*pr.Errors)[0].Field, body)
	}
	var after string
	require.NoError(t, env.DB.Get(&after, `SELECT row_to_json(p)::text FROM providers p WHERE id = $1`, p.Id))
	assert.Equal(t, before, after, "refused changes write nothing")

	// Same host, another path: no key needed.
	mustPatchProvider(t, env, dev, p.Id, `{"base_url":"https://8.8.8.8/v2"}`)
	// Another host with the key: allowed, and audited before/after.
	mustPatchProvider(t, env, dev, p.Id, `{"base_url":"https://1.1.1.1/v1","api_key":"sk-live-new-destination-0123456789abcdef"}`)

	rt, rid := "provider", itoa(p.Id)
	res, err := env.Client.ListAuditWithResponse(context.Background(), &apiclient.ListAuditParams{ResourceType: &rt, ResourceId: &rid}, testenv.WithToken(admin))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode())
	latest := res.JSON200.Items[0].Changes.MustGet()
	assert.Equal(t, map[string]any{"from": "https://8.8.8.8/v2", "to": "https://1.1.1.1/v1"}, latest["base_url"])
	assert.Equal(t, "[redacted]", latest["api_key"])
	assert.NotContains(t, string(res.Body), secret)
	assert.NotContains(t, string(res.Body), "sk-live-new-destination")
}

// TestProviderInputRules covers issue 13 items 12 and 16 and issue 17
// item 6 through the API: SSRF ranges, Google fields, provider types,
// names differing only in case, and masking of short keys.
func TestProviderInputRules(t *testing.T) {
	t.Parallel()
	env := testenv.Start(t, func(c *app.Config) { c.Providers.AllowPrivateNetworks = new(bool) })
	admin := env.AdminToken(t)

	t.Run("special_purpose_destinations_are_refused", func(t *testing.T) {
		for i, u := range []string{"http://[64:ff9b:1::a9fe:a9fe]/", "http://[2001::1]/", "http://[fec0::1]/",
			"http://198.18.0.1/", "http://240.0.0.1/", "http://169.254.169.254/"} {
			pr := problemOf(t, createProviderRaw(t, env, admin,
				fmt.Sprintf(`{"name":"ssrf-%d","type":"compatible","base_url":%q,"models":["m"]}`, i, u)), http.StatusUnprocessableEntity)
			require.NotNil(t, pr.Errors, u)
			assert.Equal(t, "base_url", (*pr.Errors)[0].Field, u)
		}
	})

	t.Run("google_fields_have_their_real_formats", func(t *testing.T) {
		for field, body := range map[string]string{
			"google_location": `{"name":"g1","type":"vertex","google_project":"proj-01","google_location":"../../169.254.169.254","models":["m"]}`,
			"google_project":  `{"name":"g2","type":"vertex","google_project":"../../169.254.169.254","models":["m"]}`,
		} {
			pr := problemOf(t, createProviderRaw(t, env, admin, body), http.StatusUnprocessableEntity)
			require.NotNil(t, pr.Errors)
			assert.Equal(t, field, (*pr.Errors)[0].Field)
		}
		p := decodeProvider(t, createProviderRaw(t, env, admin, `{"name":"g3","type":"vertex","google_project":"my-proj-1","google_location":"europe-west4","models":["m"]}`))
		assert.Equal(t, "europe-west4", p.GoogleLocation.MustGet())
	})

	t.Run("types_are_normalized_and_unknown_ones_refused", func(t *testing.T) {
		p := decodeProvider(t, createProviderRaw(t, env, admin, `{"name":"t1","type":" OpenAI ","models":["m"]}`))
		assert.Equal(t, apiclient.ProviderTypeOpenai, p.Type)
		p = decodeProvider(t, createProviderRaw(t, env, admin, `{"name":"t2","type":"DeepSeek","base_url":"https://8.8.4.4/v1","models":["deepseek-chat"]}`))
		assert.Equal(t, apiclient.ProviderTypeCompatible, p.Type)
		for _, typ := range []string{"azure", "custom", "suno"} {
			pr := problemOf(t, createProviderRaw(t, env, admin, fmt.Sprintf(`{"name":"t-%s","type":%q,"base_url":"https://8.8.4.4/v1","models":["m"]}`, typ, typ)),
				http.StatusUnprocessableEntity)
			require.NotNil(t, pr.Errors)
			assert.Equal(t, "type", (*pr.Errors)[0].Field)
		}
		// Nothing but known types ever reaches Redis.
		rdb := env.Redis(t)
		known := []string{"openai", "compatible", "anthropic", "claude", "claude-code", "codex", "gemini-cli",
			"antigravity", "gemini", "google", "aistudio", "vertex", "vertex-express"}
		require.Eventually(t, func() bool {
			n, err := rdb.HLen(context.Background(), "config:providers").Result()
			return err == nil && n >= 3
		}, 10*time.Second, 50*time.Millisecond)
		vals, err := rdb.HVals(context.Background(), "config:providers").Result()
		require.NoError(t, err)
		for _, v := range vals {
			var pj struct {
				Type string `json:"type"`
			}
			require.NoError(t, json.Unmarshal([]byte(v), &pj))
			assert.True(t, slices.Contains(known, pj.Type), pj.Type)
		}
	})

	t.Run("names_differing_only_in_case_conflict", func(t *testing.T) {
		decodeProvider(t, createProviderRaw(t, env, admin, `{"name":"gpt-4o-upstream","type":"openai","models":["m"]}`))
		problemOf(t, createProviderRaw(t, env, admin, `{"name":"GPT-4o-Upstream","type":"openai","models":["m"]}`), http.StatusConflict)

		require.Equal(t, http.StatusCreated, rawJSON(t, env, http.MethodPost, "/models", admin, []byte(`{"name":"gpt-4o"}`)).StatusCode)
		problemOf(t, rawJSON(t, env, http.MethodPost, "/models", admin, []byte(`{"name":"GPT-4o"}`)), http.StatusConflict)

		require.Equal(t, http.StatusCreated, rawJSON(t, env, http.MethodPost, "/admin/masters", admin, []byte(`{"name":"acme-case"}`)).StatusCode)
		problemOf(t, rawJSON(t, env, http.MethodPost, "/admin/masters", admin, []byte(`{"name":"ACME-case"}`)), http.StatusConflict)
	})

	t.Run("short_keys_are_masked_to_a_quarter_at_most", func(t *testing.T) {
		p := decodeProvider(t, createProviderRaw(t, env, admin, `{"name":"short-key","type":"openai","api_key":"abcdefghijkl","models":["m"]}`))
		assert.Equal(t, "…kl", p.ApiKey, "12 characters show 2, not 8")
	})
}

package snapshot_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/refbalancer"
	"github.com/ez-api/ez-api/tests/testenv"
)

// The structs below mirror, field for field (names, JSON types, omitempty),
// what the original EZ-API balancer decodes, as published in the EZ-Api/
// foundation contract library: routing.BindingSnapshot/BindingCandidate,
// modelcap.Model/Meta and contract.DPConfigRefreshEvent.

type foundationBindingCandidate struct {
	GroupID       uint              `json:"group_id"`
	RouteGroup    string            `json:"route_group"`
	Weight        int               `json:"weight,omitempty"`
	SelectorType  string            `json:"selector_type,omitempty"`
	SelectorValue string            `json:"selector_value,omitempty"`
	Status        string            `json:"status,omitempty"`
	Error         string            `json:"error,omitempty"`
	Upstreams     map[string]string `json:"upstreams"`
}

type foundationBindingSnapshot struct {
	Namespace   string                       `json:"namespace"`
	PublicModel string                       `json:"public_model"`
	Status      string                       `json:"status,omitempty"`
	UpdatedAt   int64                        `json:"updated_at,omitempty"`
	Candidates  []foundationBindingCandidate `json:"candidates"`
}

type foundationModel struct {
	Name               string  `json:"name"`
	Kind               string  `json:"kind,omitempty"`
	ContextWindow      int     `json:"context_window,omitempty"`
	CostPerToken       float64 `json:"cost_per_token,omitempty"`
	SupportsVision     bool    `json:"supports_vision,omitempty"`
	SupportsFunction   bool    `json:"supports_functions,omitempty"`
	SupportsToolChoice bool    `json:"supports_tool_choice,omitempty"`
	SupportsFim        bool    `json:"supports_fim,omitempty"`
	SupportsStream     bool    `json:"supports_stream,omitempty"`
	MaxOutputTokens    int     `json:"max_output_tokens,omitempty"`
}

type foundationMeta struct {
	Version     string `json:"version"`
	UpdatedAt   string `json:"updated_at"`
	Source      string `json:"source"`
	Checksum    string `json:"checksum"`
	UpstreamURL string `json:"upstream_url,omitempty"`
	UpstreamRef string `json:"upstream_ref,omitempty"`
}

type foundationRefreshEvent struct {
	Resource  string `json:"resource"`
	Version   string `json:"version,omitempty"`
	ActiveKey string `json:"active_key,omitempty"`
	Timestamp int64  `json:"timestamp"`
}

// checksumFromPayloads transcribes the published modelcap.ChecksumFromPayloads.
func checksumFromPayloads(payloads map[string]string) string {
	keys := make([]string, 0, len(payloads))
	for k := range payloads {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{'\n'})
		h.Write([]byte(payloads[k]))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// decodeStrict decodes raw into v, failing on a JSON type that does not fit
// the published field, and checks that every required (non-omitempty)
// field of the published struct is present.
func decodeStrict(t *testing.T, what, raw string, v any, required ...string) {
	t.Helper()
	require.NoError(t, json.Unmarshal([]byte(raw), v), "%s does not decode into the published struct: %s", what, raw)
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(raw), &m), "%s", what)
	for _, f := range required {
		assert.Contains(t, m, f, "%s lacks the published field %q", what, f)
	}
}

// Not parallel: the package's Redis DB holds one snapshot.
func TestFoundationContract(t *testing.T) {
	env := testenv.Start(t, fastSync)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	as := testenv.WithToken(env.AdminToken(t))
	rdb := env.Redis(t)

	// Every dp:config:refresh message from here on.
	sub := rdb.Subscribe(ctx, snapshot.RefreshChannel)
	defer sub.Close()
	_, err := sub.Receive(ctx)
	require.NoError(t, err)
	var (
		mu     sync.Mutex
		events []string
	)
	go func() {
		for msg := range sub.Channel() {
			mu.Lock()
			events = append(events, msg.Payload)
			mu.Unlock()
		}
	}()
	// A reference balancer that reloads only on dp:config:refresh.
	bal := refbalancer.New(rdb, env.Config.Redis.KeyPrefix)
	go bal.Follow(ctx, snapshot.RefreshChannel)

	group := "foundation"
	upstreamKey := "sk-upstream-foundation-0123456789"
	prov, err := env.Client.CreateProviderWithResponse(ctx, apiclient.CreateProviderJSONRequestBody{
		Name: "foundation-openai", Type: apiclient.ProviderTypeOpenai, ApiKey: &upstreamKey, Group: &group,
		Models: []string{"gpt-4o-2024-08-06", "gpt-4o-mini"}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, prov.StatusCode(), string(prov.Body))
	price := 2.5
	mod, err := env.Client.CreateModelWithResponse(ctx, apiclient.CreateModelJSONRequestBody{Name: "fnd-gpt-4o", InputPricePerMtok: &price}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, mod.StatusCode(), string(mod.Body))
	bind, err := env.Client.CreateBindingWithResponse(ctx, apiclient.CreateBindingJSONRequestBody{PublicModel: "fnd-gpt-4o",
		Candidates: apiclient.BindingCandidates{{RouteGroup: &group, SelectorType: apiclient.SelectorTypeRegex, SelectorValue: "^gpt-4o-2024"}}}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, bind.StatusCode(), string(bind.Body))
	master, err := env.Client.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: "foundation-tenant"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, master.StatusCode(), string(master.Body))
	key, err := env.Client.IssueMasterKeyWithResponse(ctx, master.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: "app"}, as)
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, key.StatusCode(), string(key.Body))

	require.Eventually(t, func() bool {
		_, err := bal.Authorize(key.JSON201.Token, "default.fnd-gpt-4o", time.Now())
		return err == nil
	}, 2*time.Second, 10*time.Millisecond, "the balancer reloads on dp:config:refresh alone and routes the new key")
	assert.Positive(t, bal.Reloads(snapshot.RefreshChannel))

	t.Run("refresh_events_decode_as_DPConfigRefreshEvent", func(t *testing.T) {
		resources := map[string]bool{}
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, raw := range events {
				var ev foundationRefreshEvent
				if json.Unmarshal([]byte(raw), &ev) == nil {
					resources[ev.Resource] = true
				}
			}
			return resources[snapshot.KeyAuthKeys] && resources[snapshot.KeyModels] && resources[snapshot.KeyModelsMeta] &&
				resources[snapshot.KeyBindings] && resources[snapshot.KeyProviders] && resources[snapshot.KeyMasters]
		}, 2*time.Second, 10*time.Millisecond, "one event per changed hash")
		mu.Lock()
		defer mu.Unlock()
		known := map[string]bool{snapshot.KeyModelsMeta: true}
		for _, k := range snapshot.DataKeys {
			known[k] = true
		}
		for _, raw := range events {
			dec := json.NewDecoder(bytes.NewReader([]byte(raw)))
			dec.DisallowUnknownFields()
			var ev foundationRefreshEvent
			require.NoError(t, dec.Decode(&ev), "exactly the published event shape: %s", raw)
			assert.True(t, known[ev.Resource], "resource %q is a hash name", ev.Resource)
			v, err := strconv.ParseInt(ev.Version, 10, 64)
			assert.NoError(t, err, "version is a decimal string: %s", raw)
			assert.Positive(t, v)
			assert.Empty(t, ev.ActiveKey, "active_key is omitted (docs/snapshot.md)")
			assert.InDelta(t, time.Now().Unix(), ev.Timestamp, 60, "timestamp is unix seconds")
		}
	})

	t.Run("values_decode_into_the_published_structs", func(t *testing.T) {
		bindings, err := rdb.HGetAll(ctx, snapshot.KeyBindings).Result()
		require.NoError(t, err)
		require.NotEmpty(t, bindings)
		for field, raw := range bindings {
			var b foundationBindingSnapshot
			decodeStrict(t, "config:bindings "+field, raw, &b, "namespace", "public_model", "candidates")
			assert.Equal(t, field, b.Namespace+"."+b.PublicModel)
			var m struct {
				Candidates []map[string]json.RawMessage `json:"candidates"`
			}
			require.NoError(t, json.Unmarshal([]byte(raw), &m))
			for _, c := range m.Candidates {
				for _, f := range []string{"group_id", "route_group", "upstreams"} {
					assert.Contains(t, c, f, "config:bindings %s candidate lacks %q", field, f)
				}
			}
		}
		var b foundationBindingSnapshot
		require.NoError(t, json.Unmarshal([]byte(bindings["default.fnd-gpt-4o"]), &b))
		require.Len(t, b.Candidates, 1)
		assert.Equal(t, map[string]string{strconv.FormatInt(prov.JSON201.Id, 10): "gpt-4o-2024-08-06"}, b.Candidates[0].Upstreams)

		models, err := rdb.HGetAll(ctx, snapshot.KeyModels).Result()
		require.NoError(t, err)
		require.NotEmpty(t, models)
		for field, raw := range models {
			var m foundationModel
			decodeStrict(t, "meta:models "+field, raw, &m, "name")
			assert.Equal(t, field, m.Name)
		}
		var gpt foundationModel
		require.NoError(t, json.Unmarshal([]byte(models["default.fnd-gpt-4o"]), &gpt))
		assert.InDelta(t, 2.5/1e6, gpt.CostPerToken, 1e-15, "cost_per_token = input_price_per_mtok / 1e6")

		metaHash, err := rdb.HGetAll(ctx, snapshot.KeyModelsMeta).Result()
		require.NoError(t, err)
		metaJSON, err := json.Marshal(metaHash)
		require.NoError(t, err)
		var meta foundationMeta
		decodeStrict(t, "meta:models_meta", string(metaJSON), &meta, "version", "updated_at", "source", "checksum")
		assert.Equal(t, checksumFromPayloads(models), meta.Checksum, "meta:models_meta.checksum is ChecksumFromPayloads(meta:models)")

		sample := decodeObject(t, "provider_snapshot.json", readContractSample(t, "provider_snapshot.json"))
		providers, err := rdb.HGetAll(ctx, snapshot.KeyProviders).Result()
		require.NoError(t, err)
		require.NotEmpty(t, providers)
		for id, raw := range providers {
			assertContract(t, "config:providers "+id, sample, decodeObject(t, "config:providers "+id, []byte(raw)))
		}
	})
}

// Package console_test checks the admin console served at /ui/: its
// TypeScript is type-checked against openapi.yaml (a renamed field breaks
// it), and web/e2e/console.mjs drives it in Debian's Chromium with
// playwright-core against a real server, with axe-core on every page. The
// test answers the checks only Go can make (the key's sha256 in Redis, log
// ingestion as a balancer) on a loopback harness.
//
// Node.js (≥ 20.19) and npm are required; web/'s pinned packages are
// installed with `npm ci` from web/package-lock.json when missing or stale
// (tests/npmproject).
package console_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/npmproject"
	"github.com/ez-api/ez-api/tests/testenv"
)

// budget bounds everything this package runs through npm, node and tsc.
const budget = 8 * time.Minute

// project is web/, whose Node.js 20.19 floor is Vite 8's.
var project *npmproject.Project

func TestMain(m *testing.M) {
	project = npmproject.New(filepath.Join("..", "..", "web"), "the console (web/)", [2]int{20, 19}, budget)
	os.Exit(testenv.Main(m))
}

// TestConsoleTypeCheck generates the types from openapi.yaml and runs
// `tsc --noEmit` (strict) on the console.
func TestConsoleTypeCheck(t *testing.T) {
	dir := webDir(t)
	installDeps(t, dir)
	run(t, dir, nil, "npm", "run", "-s", "gen")
	run(t, dir, nil, "npm", "run", "-s", "typecheck")
}

// TestRenamedFieldBreaksConsole renames fields in a copy of the spec and
// expects tsc to fail on the console's use of them; the unchanged copy must
// pass, so the failure is the rename's.
func TestRenamedFieldBreaksConsole(t *testing.T) {
	dir := webDir(t)
	installDeps(t, dir)
	spec, err := os.ReadFile(filepath.Join(dir, "..", "openapi.yaml"))
	require.NoError(t, err)
	cases := []struct{ name, old, new, file string }{
		{"unchanged", "", "", ""},
		{"binding_public_model", `public_model`, "publicModel", "src/pages/bindings.tsx"},
		{"key_quota_tokens", `quota_tokens`, "quotaTokens", "src/keys.tsx"},
		{"sync_in_sync", `in_sync`, "inSync", "src/pages/overview.tsx"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			renamed := spec
			if tc.old != "" {
				word := regexp.MustCompile(`\b` + tc.old + `\b`)
				require.True(t, word.Match(spec), "openapi.yaml has no %q to rename; update this test", tc.old)
				renamed = word.ReplaceAll(spec, []byte(tc.new))
			}
			scratch := scratchProject(t, dir, renamed)
			run(t, scratch, nil, project.Bin("openapi-typescript"), "openapi.yaml", "--default-non-nullable", "false", "-o", filepath.Join("src", "schema.d.ts"))
			out, err := command(t, scratch, nil, project.Bin("tsc"), "--noEmit", "-p", scratch)
			if tc.old == "" {
				require.NoError(t, err, "tsc on the unchanged spec:\n%s", out)
				return
			}
			var exit *exec.ExitError
			require.True(t, errors.As(err, &exit), "tsc passed (or did not run: %v) with %q renamed:\n%s", err, tc.old, out)
			require.Contains(t, out, tc.file, "tsc failed, but not in %s", tc.file)
			require.Contains(t, out, "'"+tc.old+"'", "tsc failed, but not on %q", tc.old)
		})
	}
}

// TestConsoleInBrowser runs web/e2e/console.mjs against a real server.
func TestConsoleInBrowser(t *testing.T) {
	dir := webDir(t)
	installDeps(t, dir)
	chromium := findChromium(t)
	artifacts, err := filepath.Abs(filepath.Join("..", "artifacts", "ui"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(artifacts, 0o755))
	_ = os.Remove(filepath.Join(artifacts, "failure.png"))

	env := testenv.Start(t)
	admin := env.AdminToken(t)
	const viewerName = "console-viewer"
	env.CreateOperator(t, admin, viewerName, apiclient.OperatorRoleViewer)
	_, balancer := env.CreateServiceToken(t, admin, "console-balancer", apiclient.ServiceTokenRoleBalancer)

	// Another tenant's key, which the console's tenant must never see.
	ctx := context.Background()
	other, err := env.Client.CreateMasterWithResponse(ctx, apiclient.CreateMasterJSONRequestBody{Name: "other-tenant"}, testenv.WithToken(admin))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, other.StatusCode(), string(other.Body))
	const otherKey, otherModel = "other-tenant-key", "other-tenant-model"
	k, err := env.Client.IssueMasterKeyWithResponse(ctx, other.JSON201.Master.Id, apiclient.IssueMasterKeyJSONRequestBody{Name: otherKey}, testenv.WithToken(admin))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, k.StatusCode(), string(k.Body))

	h := &harness{t: t, env: env, balancer: balancer}
	// The other tenant's traffic: the admin sees it, the console's tenant must not.
	_, err = h.ingest(ctx, k.JSON201.Token, otherModel, 3, 0)
	require.NoError(t, err)
	url := h.start(t)
	out := run(t, dir, []string{
		"EZ_BASE_URL=" + env.BaseURL,
		"EZ_HARNESS=" + url,
		"EZ_ARTIFACTS=" + artifacts,
		"EZ_CHROMIUM=" + chromium,
		"EZ_ADMIN_USER=" + testenv.AdminUsername,
		"EZ_ADMIN_PASS=" + testenv.AdminPassword,
		"EZ_VIEWER_USER=" + viewerName,
		"EZ_VIEWER_PASS=pw-" + viewerName + "-0123456789",
		"EZ_OTHER_KEY_NAME=" + otherKey,
		"EZ_OTHER_MODEL=" + otherModel,
	}, "node", filepath.Join("e2e", "console.mjs"))
	require.Contains(t, out, "console-e2e: OK:", "the run exited 0 without its summary line")
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "console-e2e:") {
			t.Log(l)
		}
	}
}

// harness answers the browser run's requests for checks made in Go.
type harness struct {
	t        *testing.T
	env      *testenv.Env
	balancer string
}

func (h *harness) start(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /redis-key", h.redisKey)
	mux.HandleFunc("POST /logs", h.logs)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// redisKey waits (at most 5 s) for the token's sha256 to be in auth:keys.
func (h *harness) redisKey(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token   string `json:"token"`
		Present bool   `json:"present"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rdb := h.env.Redis(h.t)
	hash := sha256hex(req.Token)
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	for {
		ok, err := rdb.HExists(ctx, snapshot.KeyAuthKeys, hash).Result()
		if err == nil && ok == req.Present {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		select {
		case <-ctx.Done():
			http.Error(w, fmt.Sprintf("%s in Redis: present=%v, want %v (err %v)", snapshot.KeyAuthKeys, ok, req.Present, err), http.StatusConflict)
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logs ingests ok + errors records for the key, as a balancer would.
func (h *harness) logs(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token  string `json:"token"`
		Model  string `json:"model"`
		OK     int    `json:"ok"`
		Errors int    `json:"errors"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, err := h.ingest(r.Context(), req.Token, req.Model, req.OK, req.Errors)
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// ingest posts ok + errors records for the key with token as the balancer,
// through POST /logs; provider_id is ui-openai's once the browser made it.
func (h *harness) ingest(ctx context.Context, token, model string, ok, errs int) ([]byte, error) {
	var key struct {
		ID       int64 `db:"id"`
		MasterID int64 `db:"master_id"`
	}
	if err := h.env.DB.Get(&key, `SELECT id, master_id FROM keys WHERE token_hash = $1`, sha256hex(token)); err != nil {
		return nil, fmt.Errorf("key by token hash: %w", err)
	}
	var provider []int64
	if err := h.env.DB.Select(&provider, `SELECT id FROM providers WHERE name = 'ui-openai'`); err != nil {
		return nil, fmt.Errorf("provider: %w", err)
	}
	var batch []map[string]any
	now := time.Now().UTC()
	for i := range ok + errs {
		status := 200
		if i >= ok {
			status = 502
		}
		rec := map[string]any{
			"request_id": fmt.Sprintf("console-%d-%d", now.UnixNano(), i), "created_at": now.Add(-time.Duration(i) * time.Minute).Format(time.RFC3339Nano),
			"key_id": key.ID, "master_id": key.MasterID, "model": model, "upstream_model": "gpt-4o-2024-08-06",
			"status_code": status, "latency_ms": 100 + 10*i, "prompt_tokens": 100, "completion_tokens": 50, "cost_usd": 0.001,
		}
		if len(provider) == 1 {
			rec["provider_id"] = provider[0]
		}
		batch = append(batch, rec)
	}
	body, err := json.Marshal(batch)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.env.BaseURL+"/logs", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+h.balancer)
	req.Header.Set("Content-Type", "application/json")
	res, err := h.env.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return nil, fmt.Errorf("POST /logs: %d %s", res.StatusCode, out)
	}
	return out, nil
}

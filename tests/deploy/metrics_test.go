package deploy_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/apiclient"
	"github.com/ez-api/ez-api/tests/testenv"
)

const (
	alertsFile    = "../../deploy/prometheus/alerts.yaml"
	dashboardFile = "../../deploy/grafana/dashboards/ezapi.json"
)

// served is the prefix of every metric a running ezapi serves: its own, and
// the Go runtime and process collectors it registers.
var served = regexp.MustCompile(`^(ezapi|go|process)_`)

// external are the metrics the rules and the dashboard may use that ezapi does
// not serve: Prometheus' own scrape health and the blackbox exporter's
// certificate probe (EzapiCertificateExpiresSoon).
var external = map[string]bool{"up": true, "probe_ssl_earliest_cert_expiry": true}

// promqlWords are the PromQL functions, aggregations, keywords and label
// names the expressions use; any other identifier is taken for a metric.
var promqlWords = wordSet(`sum max min count avg by without on ignoring and or unless bool
	rate increase deriv time min_over_time histogram_quantile vector
	job instance method path status le kind rule resource instance_id dependency`)

func wordSet(words string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.Fields(words) {
		set[w] = true
	}
	return set
}

var (
	quoted     = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	rangeSel   = regexp.MustCompile(`\[[^\]]*\]`)
	identifier = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
)

// metricNames returns the metric names an expression selects, and the
// identifiers that are neither PromQL words nor metrics of a known source:
// callers fail on those, so a new function or label must be added above
// rather than slip through.
func metricNames(expr string) (names, unknown []string) {
	s := quoted.ReplaceAllString(expr, `""`)
	s = rangeSel.ReplaceAllString(s, "")
	for _, loc := range identifier.FindAllStringIndex(s, -1) {
		if loc[0] > 0 && (s[loc[0]-1] >= '0' && s[loc[0]-1] <= '9' || s[loc[0]-1] == '.') {
			continue // a unit or exponent: 5m, 1e3
		}
		word := s[loc[0]:loc[1]]
		switch {
		case promqlWords[word]:
		case served.MatchString(word) || external[word]:
			names = append(names, word)
		default:
			unknown = append(unknown, word)
		}
	}
	return names, unknown
}

// family is the metric family a sample name belongs to.
func family(name string, histograms map[string]bool) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && histograms[base] {
			return base
		}
	}
	return name
}

func alertExprs(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(alertsFile)
	require.NoError(t, err)
	var doc struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	out := map[string]string{}
	for _, g := range doc.Groups {
		for _, r := range g.Rules {
			out["alert "+r.Alert] = r.Expr
		}
	}
	require.NotEmpty(t, out)
	return out
}

func dashboardExprs(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	var doc struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				RefID string `json:"refId"`
				Expr  string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	out := map[string]string{}
	for _, p := range doc.Panels {
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.Expr, "panel %q target %s", p.Title, tg.RefID)
			out["panel "+p.Title+" "+tg.RefID] = tg.Expr
		}
	}
	require.NotEmpty(t, out)
	return out
}

// TestDashboardAndAlertMetricsExistOnARunningServer starts ezapi, makes it
// publish a snapshot, answer HTTP requests, refuse one with 429, hold a
// master and receive a balancer's heartbeat, then reads
// /metrics: every metric the dashboard and the alert rules use must be there,
// so neither can drift from the code.
func TestDashboardAndAlertMetricsExistOnARunningServer(t *testing.T) {
	env := testenv.Start(t, func(c *app.Config) {
		c.RateLimit.Enabled = true
		c.RateLimit.Backend = "memory"
		c.RateLimit.Rules = []app.RuleConfig{{Name: "deploy-probe", Scope: "principal", Algorithm: "sliding_window",
			Limit: 1, Window: time.Minute, Match: "/auth/me"}}
	})
	token := env.AdminToken(t)
	do := func(method, path string) int {
		req, err := http.NewRequest(method, env.BaseURL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		return send(t, env, req)
	}
	require.Equal(t, http.StatusOK, do(http.MethodGet, "/readyz"))
	require.Equal(t, http.StatusOK, do(http.MethodGet, "/auth/me"))
	require.Equal(t, http.StatusTooManyRequests, do(http.MethodGet, "/auth/me"))
	require.Less(t, do(http.MethodPost, "/sync/snapshot"), 300)
	env.CreateMaster(t, "deploy-metrics") // ezapi_resources has a series per resource and status present
	// The per-balancer series exist for balancers that sent a heartbeat.
	_, balancer := env.CreateServiceToken(t, token, "deploy-balancer", apiclient.ServiceTokenRoleBalancer)
	req, err := http.NewRequest(http.MethodPost, env.BaseURL+"/balancers/heartbeat",
		strings.NewReader(`{"instance_id":"deploy-b1","snapshot_version":0}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+balancer)
	req.Header.Set("Content-Type", "application/json")
	require.Less(t, send(t, env, req), 300)

	used := map[string][]string{} // metric → where it is used
	exprs := alertExprs(t)
	for where, expr := range dashboardExprs(t) {
		exprs[where] = expr
	}
	for where, expr := range exprs {
		names, unknown := metricNames(expr)
		assert.Empty(t, unknown, "%s: neither known PromQL words nor metrics of ezapi, Prometheus or the blackbox exporter: %s", where, expr)
		for _, n := range names {
			used[n] = append(used[n], where)
		}
	}
	require.NotEmpty(t, used)

	var families, histograms map[string]bool
	require.Eventually(t, func() bool {
		families, histograms = scrape(t, env.BaseURL+"/metrics")
		return families["ezapi_snapshot_publish_duration_seconds"] && families["ezapi_ratelimit_rejections_total"] &&
			families["ezapi_resources"] && families["ezapi_balancer_snapshot_version_lag"]
	}, 15*time.Second, 100*time.Millisecond, "the snapshot publish, the 429, the master or the heartbeat never showed in /metrics")

	var missing []string
	for name, where := range used {
		if external[name] {
			continue
		}
		if !families[family(name, histograms)] {
			sort.Strings(where)
			missing = append(missing, name+" (used by "+strings.Join(where, "; ")+")")
		}
	}
	sort.Strings(missing)
	assert.Empty(t, missing, "metrics the dashboard or the alerts use but /metrics does not serve")
}

// send runs req and returns its status.
func send(t *testing.T, env *testenv.Env, req *http.Request) int {
	t.Helper()
	resp, err := env.HTTP.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// scrape reads the metric families (# TYPE lines) of a /metrics page.
func scrape(t *testing.T, url string) (families, histograms map[string]bool) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	families, histograms = map[string]bool{}, map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			families[f[2]] = true
			if f[3] == "histogram" || f[3] == "summary" {
				histograms[f[2]] = true
			}
		}
	}
	require.NoError(t, sc.Err())
	return families, histograms
}

// TestMetricNamesRejectsUnknownIdentifiers keeps the extractor honest: it must
// find metrics behind functions and aggregations, skip label values, units
// and Grafana variables, and flag an identifier it cannot place.
func TestMetricNamesRejectsUnknownIdentifiers(t *testing.T) {
	got, unknown := metricNames(`histogram_quantile(0.99, sum by (le, path) (rate(ezapi_http_request_duration_seconds_bucket{job="$job", path!~"/livez|up"}[$__rate_interval]))) > 1e3 and on () up == 0`)
	assert.Equal(t, []string{"ezapi_http_request_duration_seconds_bucket", "up"}, got)
	assert.Empty(t, unknown)

	got, unknown = metricNames(`sum(rate(node_cpu_seconds_total[5m])) / absent(ezapi_snapshot_version)`)
	assert.Equal(t, []string{"ezapi_snapshot_version"}, got)
	assert.Equal(t, []string{"node_cpu_seconds_total", "absent"}, unknown, "another exporter's metric and an unlisted function are flagged")
}

// Package helmchart_test lints and renders deploy/helm/ezapi with the Helm
// version pinned in this module's go.mod (the `tool` line; built from source
// by TestMain: nothing is downloaded but Go modules), decodes every rendered manifest
// strictly into the Kubernetes API types (an unknown field fails), checks the
// probes, the non-root read-only securityContext and the migration hook, and
// loads the rendered config.yaml with ezapi's own configuration loader.
//
// It is a module of its own so Helm's and Kubernetes' dependency trees stay
// out of the service's go.mod; `make test` runs it.
package helmchart_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/ez-api/ez-api/internal/app"
)

const chart = "../../deploy/helm/ezapi"

// helmBin is Helm built once by TestMain from the version go.mod pins.
var helmBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ezapi-helm")
	if err != nil {
		panic(err)
	}
	helmBin = filepath.Join(dir, "helm")
	// The same build `go tool helm` makes, once instead of per call.
	out, err := exec.Command("go", "build", "-o", helmBin, "helm.sh/helm/v3/cmd/helm").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build helm: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// helm runs the pinned Helm with its state in a temporary directory.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helmBin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// serviceMonitor is the part of the Prometheus Operator's CRD the chart
// renders; decoding is strict, so a field the chart adds must be listed here.
type serviceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Selector  metav1.LabelSelector `json:"selector"`
		Endpoints []struct {
			Port              string                    `json:"port"`
			Path              string                    `json:"path"`
			Interval          string                    `json:"interval"`
			Scheme            string                    `json:"scheme"`
			BearerTokenSecret *corev1.SecretKeySelector `json:"bearerTokenSecret,omitempty"`
		} `json:"endpoints"`
	} `json:"spec"`
}

// rendered is one release's manifests, decoded.
type rendered struct {
	deployments     []*appsv1.Deployment
	jobs            []*batchv1.Job
	services        []*corev1.Service
	configMaps      []*corev1.ConfigMap
	secrets         []*corev1.Secret
	serviceAccounts []*corev1.ServiceAccount
	pdbs            []*policyv1.PodDisruptionBudget
	hpas            []*autoscalingv2.HorizontalPodAutoscaler
	ingresses       []*networkingv1.Ingress
	serviceMonitors []*serviceMonitor
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

func decode(t *testing.T, out string) rendered {
	t.Helper()
	var r rendered
	for _, doc := range docSep.Split(out, -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var tm metav1.TypeMeta
		require.NoError(t, yaml.Unmarshal([]byte(doc), &tm), doc)
		strict := func(obj any) {
			require.NoError(t, yaml.UnmarshalStrict([]byte(doc), obj), "%s %s does not decode strictly:\n%s", tm.APIVersion, tm.Kind, doc)
		}
		switch tm.APIVersion + " " + tm.Kind {
		case "apps/v1 Deployment":
			o := &appsv1.Deployment{}
			strict(o)
			r.deployments = append(r.deployments, o)
		case "batch/v1 Job":
			o := &batchv1.Job{}
			strict(o)
			r.jobs = append(r.jobs, o)
		case "v1 Service":
			o := &corev1.Service{}
			strict(o)
			r.services = append(r.services, o)
		case "v1 ConfigMap":
			o := &corev1.ConfigMap{}
			strict(o)
			r.configMaps = append(r.configMaps, o)
		case "v1 Secret":
			o := &corev1.Secret{}
			strict(o)
			r.secrets = append(r.secrets, o)
		case "v1 ServiceAccount":
			o := &corev1.ServiceAccount{}
			strict(o)
			r.serviceAccounts = append(r.serviceAccounts, o)
		case "policy/v1 PodDisruptionBudget":
			o := &policyv1.PodDisruptionBudget{}
			strict(o)
			r.pdbs = append(r.pdbs, o)
		case "autoscaling/v2 HorizontalPodAutoscaler":
			o := &autoscalingv2.HorizontalPodAutoscaler{}
			strict(o)
			r.hpas = append(r.hpas, o)
		case "networking.k8s.io/v1 Ingress":
			o := &networkingv1.Ingress{}
			strict(o)
			r.ingresses = append(r.ingresses, o)
		case "monitoring.coreos.com/v1 ServiceMonitor":
			o := &serviceMonitor{}
			strict(o)
			r.serviceMonitors = append(r.serviceMonitors, o)
		default:
			t.Fatalf("unexpected manifest %s %s:\n%s", tm.APIVersion, tm.Kind, doc)
		}
	}
	return r
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestChartLintsAndRendersValidManifests(t *testing.T) {
	cases := []struct {
		name   string
		values string
		check  func(t *testing.T, r rendered)
	}{
		{"minimal_values_chart_managed_secret", "testdata/minimal-values.yaml", func(t *testing.T, r rendered) {
			d := r.deployments[0]
			require.NotNil(t, d.Spec.Replicas)
			assert.GreaterOrEqual(t, *d.Spec.Replicas, int32(2), "two replicas by default")
			assert.Empty(t, r.hpas)
			assert.Empty(t, r.ingresses)
			assert.Empty(t, r.serviceMonitors)
			require.Len(t, r.pdbs, 1)
			// The Deployment's Secret plus the migration hook's copy.
			require.Len(t, r.secrets, 2)
			for _, s := range r.secrets {
				for _, k := range []string{"EZ_PG_DSN", "EZ_JWT_SECRET", "EZ_ENCRYPTION_KEY"} {
					assert.NotEmpty(t, s.Data[k], "secret %s has %s", s.Name, k)
				}
			}
			assert.Equal(t, r.secrets[0].Name, d.Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef.Name)
			assertHook(t, r.secrets[1].Annotations, "-10")
			assert.Equal(t, r.secrets[1].Name, r.jobs[0].Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef.Name)
			assert.Equal(t, "HTTP", string(d.Spec.Template.Spec.Containers[0].ReadinessProbe.HTTPGet.Scheme))
		}},
		{"production_values_existing_secret_tls_ingress_hpa", "testdata/production-values.yaml", func(t *testing.T, r rendered) {
			d := r.deployments[0]
			assert.Nil(t, d.Spec.Replicas, "the HPA owns the replica count")
			require.Len(t, r.hpas, 1)
			assert.Equal(t, int32(3), *r.hpas[0].Spec.MinReplicas)
			assert.Equal(t, d.Name, r.hpas[0].Spec.ScaleTargetRef.Name)
			assert.Empty(t, r.secrets, "existing secret: the chart creates none")
			c := d.Spec.Template.Spec.Containers[0]
			assert.Equal(t, "ezapi-secrets", c.EnvFrom[0].SecretRef.Name)
			assert.Equal(t, "ezapi-secrets", r.jobs[0].Spec.Template.Spec.Containers[0].EnvFrom[0].SecretRef.Name)
			assert.Equal(t, "registry.example.com/ezapi:v1.2.3", c.Image)
			assert.Equal(t, int32(8443), c.Ports[0].ContainerPort)
			assert.Equal(t, "HTTPS", string(c.ReadinessProbe.HTTPGet.Scheme))
			assert.Equal(t, "HTTPS", string(c.LivenessProbe.HTTPGet.Scheme))
			require.Len(t, r.ingresses, 1)
			assert.Equal(t, "ezapi.example.com", r.ingresses[0].Spec.Rules[0].Host)
			assert.Equal(t, r.services[0].Name, r.ingresses[0].Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name)
			require.Len(t, r.serviceMonitors, 1)
			ep := r.serviceMonitors[0].Spec.Endpoints[0]
			assert.Equal(t, "/metrics", ep.Path)
			assert.Equal(t, "https", ep.Scheme)
			require.NotNil(t, ep.BearerTokenSecret)
			assert.Equal(t, "ezapi-secrets", ep.BearerTokenSecret.Name)
			assert.Equal(t, int32(2), r.pdbs[0].Spec.MinAvailable.IntVal)
			var tlsMounted bool
			for _, m := range c.VolumeMounts {
				tlsMounted = tlsMounted || m.MountPath == "/etc/ezapi/tls"
			}
			assert.True(t, tlsMounted, "the serving certificate is mounted")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helm(t, "lint", "--strict", chart, "-f", tc.values)
			require.NoError(t, err)
			out, err := helm(t, "template", "ezapi", chart, "-f", tc.values, "--namespace", "ezapi")
			require.NoError(t, err)
			r := decode(t, out)

			require.Len(t, r.deployments, 1)
			require.Len(t, r.services, 1)
			require.Len(t, r.configMaps, 1)
			require.Len(t, r.serviceAccounts, 1)
			require.Len(t, r.jobs, 1)
			assertPodRunsNonRootReadOnly(t, "deployment", r.deployments[0].Spec.Template.Spec)
			assertPodRunsNonRootReadOnly(t, "migration job", r.jobs[0].Spec.Template.Spec)
			assertProbes(t, r.deployments[0])
			assertMigrationHook(t, r)
			assertServiceRoutesToPods(t, r)
			assertConfigLoads(t, r)
			tc.check(t, r)
		})
	}
}

func TestChartRefusesAMissingSecret(t *testing.T) {
	_, err := helm(t, "template", "ezapi", chart)
	require.Error(t, err, "default values without secrets must not render")
	assert.Contains(t, err.Error(), "secrets.pgDsn is required")
}

func assertPodRunsNonRootReadOnly(t *testing.T, what string, pod corev1.PodSpec) {
	t.Helper()
	require.NotNil(t, pod.SecurityContext, what)
	psc := pod.SecurityContext
	require.NotNil(t, psc.RunAsNonRoot, what)
	assert.True(t, *psc.RunAsNonRoot, what)
	require.NotNil(t, psc.RunAsUser, what)
	assert.Equal(t, int64(65532), *psc.RunAsUser, "%s runs as the image's nonroot user", what)
	require.NotNil(t, psc.SeccompProfile, what)
	assert.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, psc.SeccompProfile.Type, what)
	require.NotNil(t, pod.AutomountServiceAccountToken, what)
	assert.False(t, *pod.AutomountServiceAccountToken, "%s needs no Kubernetes API token", what)
	require.Len(t, pod.Containers, 1, what)
	c := pod.Containers[0]
	sc := c.SecurityContext
	require.NotNil(t, sc, what)
	require.NotNil(t, sc.ReadOnlyRootFilesystem, what)
	assert.True(t, *sc.ReadOnlyRootFilesystem, "%s: read-only root filesystem", what)
	require.NotNil(t, sc.AllowPrivilegeEscalation, what)
	assert.False(t, *sc.AllowPrivilegeEscalation, what)
	require.NotNil(t, sc.Capabilities, what)
	assert.Equal(t, []corev1.Capability{"ALL"}, sc.Capabilities.Drop, "%s drops every capability", what)
	assert.Empty(t, sc.Capabilities.Add, what)
	assert.NotNil(t, c.Resources.Requests.Memory(), what)
	assert.False(t, c.Resources.Limits.Memory().IsZero(), "%s has a memory limit", what)
}

func assertProbes(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	c := d.Spec.Template.Spec.Containers[0]
	require.Len(t, c.Ports, 1)
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		require.NotNil(t, p, "%s probe", name)
		require.NotNil(t, p.HTTPGet, "%s probe is an HTTP GET (the image has no shell)", name)
		assert.Equal(t, c.Ports[0].Name, p.HTTPGet.Port.String(), "%s probe targets the container port", name)
	}
	assert.Equal(t, "/readyz", c.StartupProbe.HTTPGet.Path)
	assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
	assert.Equal(t, "/livez", c.LivenessProbe.HTTPGet.Path)
	assert.Equal(t, []string{"serve"}, c.Args)
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	assert.Equal(t, "false", env["EZ_POSTGRES__AUTO_MIGRATE"], "the migration Job migrates, replicas do not")
	assert.Equal(t, "/etc/ezapi/config.yaml", env["EZ_CONFIG_FILE"])
	require.NotNil(t, d.Spec.Template.Spec.TerminationGracePeriodSeconds)
	assert.GreaterOrEqual(t, *d.Spec.Template.Spec.TerminationGracePeriodSeconds, int64(60),
		"about twice server.shutdown_timeout, so the log queue can drain")
	assert.Contains(t, d.Spec.Template.Annotations, "checksum/config", "a config change rolls the pods")
}

func assertHook(t *testing.T, ann map[string]string, weight string) {
	t.Helper()
	assert.Equal(t, "pre-install,pre-upgrade", ann["helm.sh/hook"])
	assert.Equal(t, weight, ann["helm.sh/hook-weight"])
	assert.Contains(t, ann["helm.sh/hook-delete-policy"], "before-hook-creation")
}

func assertMigrationHook(t *testing.T, r rendered) {
	t.Helper()
	j := r.jobs[0]
	assertHook(t, j.Annotations, "0")
	c := j.Spec.Template.Spec.Containers[0]
	assert.Equal(t, []string{"migrate", "up"}, c.Args)
	assert.Equal(t, r.deployments[0].Spec.Template.Spec.Containers[0].Image, c.Image, "migrations come from the same image")
	assert.Equal(t, corev1.RestartPolicyNever, j.Spec.Template.Spec.RestartPolicy)
	require.NotNil(t, j.Spec.BackoffLimit)
	require.NotNil(t, j.Spec.ActiveDeadlineSeconds, "a hung migration must not block the release forever")
	for _, v := range j.Spec.Template.Spec.Volumes {
		assert.Nil(t, v.ConfigMap, "on install the hook runs before the release's ConfigMap exists")
	}
}

func assertServiceRoutesToPods(t *testing.T, r rendered) {
	t.Helper()
	d, s := r.deployments[0], r.services[0]
	for k, v := range s.Spec.Selector {
		assert.Equal(t, v, d.Spec.Template.Labels[k], "service selector %s", k)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		assert.Equal(t, v, d.Spec.Template.Labels[k], "deployment selector %s", k)
	}
	assert.Equal(t, d.Spec.Template.Spec.Containers[0].Ports[0].Name, s.Spec.Ports[0].TargetPort.String())
	for _, p := range r.pdbs {
		assert.Equal(t, d.Spec.Selector.MatchLabels, p.Spec.Selector.MatchLabels)
	}
	// Job pods must not be picked up by the Service.
	jobLabels := r.jobs[0].Spec.Template.Labels
	assert.Equal(t, "migration", jobLabels["app.kubernetes.io/component"])
}

// assertConfigLoads feeds the rendered config.yaml, with the Deployment's
// environment and placeholder secrets, to ezapi's configuration loader: the
// chart's config must be one ezapi starts with.
func assertConfigLoads(t *testing.T, r rendered) {
	t.Helper()
	raw, ok := r.configMaps[0].Data["config.yaml"]
	require.True(t, ok)
	file := filepath.Join(t.TempDir(), "config.yaml")
	require.NoError(t, os.WriteFile(file, []byte(raw), 0o600))
	environ := []string{
		"EZ_JWT_SECRET=0123456789abcdef0123456789abcdef0123456789abcdef",
		"EZ_ENCRYPTION_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		"EZ_PG_DSN=host=postgres dbname=ezapi",
	}
	for _, e := range r.deployments[0].Spec.Template.Spec.Containers[0].Env {
		if e.Name == "EZ_CONFIG_FILE" {
			e.Value = file
		}
		environ = append(environ, e.Name+"="+e.Value)
	}
	cfg, err := app.LoadConfig(environ)
	require.NoError(t, err, "config.yaml:\n%s", raw)
	assert.Equal(t, app.ModeProduction, cfg.Mode)
	assert.False(t, cfg.Postgres.AutoMigrate)
	assert.Equal(t, int(r.deployments[0].Spec.Template.Spec.Containers[0].Ports[0].ContainerPort), cfg.Server.Port)
}

// Package deploy_test checks the deployment kit against the code: the
// binary the Dockerfile builds runs as non-root with nothing but itself, the
// Prometheus rules and Compose file pass their tools, and every metric the
// Grafana dashboard and the alert rules use is served by a running server.
// The Helm chart is checked by the separate module in tests/helmchart.
package deploy_test

import (
	"os"
	"strconv"
	"testing"

	"github.com/ez-api/ez-api/tests/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func itoa(n int) string { return strconv.Itoa(n) }

// Package edge_test checks rate limits, client IPs, metrics, TLS and the
// middleware order through real servers.
package edge_test

import (
	"os"
	"testing"

	"github.com/ez-api/ez-api/tests/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

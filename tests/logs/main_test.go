// Package logs_test checks the log pipeline end to end against real
// PostgreSQL (and Redis for the quota loop).
package logs_test

import (
	"os"
	"testing"

	"github.com/ez-api/ez-api/tests/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

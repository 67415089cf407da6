package contract_test

import (
	"os"
	"testing"

	"github.com/ez-api/ez-api/tests/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

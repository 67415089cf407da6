// Package imports_test imports EZ-Api/exporter files end to end: through
// POST /admin/import into PostgreSQL and on to the Redis snapshot.
package imports_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"

	"github.com/ez-api/ez-api/tests/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Package snapshot_test checks the Redis snapshot end to end: what the
// publisher writes, the contract samples, a reference balancer, and faults.
package snapshot_test

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

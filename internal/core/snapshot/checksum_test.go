package snapshot_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/internal/ports"
)

// chksumFromPayloads is a straight transcription of the published rule of
// the original modelcap.ChecksumFromPayloads (sorted fields, "field\nvalue\n").
func chksumFromPayloads(payloads map[string]string) string {
	keys := make([]string, 0, len(payloads))
	for k := range payloads {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k + "\n" + payloads[k] + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestModelsChecksumIsChecksumFromPayloads(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		models map[string]string
	}{
		{"empty_catalogue", map[string]string{}},
		{"one_model", map[string]string{"default.gpt-4o": `{"name":"default.gpt-4o"}`}},
		{"sorted_by_bytes", map[string]string{"b.x": "2", "a.y": "1", "B.z": "3", "a.ä": "4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, chksumFromPayloads(tc.models), snapshot.ModelsChecksum(tc.models))
		})
	}
	assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", snapshot.ModelsChecksum(nil))
}

func TestChecksumWorkedExample(t *testing.T) {
	t.Parallel()
	features := map[string]string{"dp_claude_cross_upstream": "false", "dp_state_store_backend": "redis"}
	assert.Equal(t, "f55c0045cfb2e6f7ba57c84d9f0760ecf6e0c5dc89e3b96122413f3f15190d2d",
		snapshot.EntryDigest(snapshot.KeyFeatures, "dp_claude_cross_upstream", "false").String())
	// The two digests overflow 2^256: the carry is dropped.
	assert.Equal(t, "7e139db9c3874304921a7814b1ddf4cee6b355fdba9975cf8fdbc3a114511ad7",
		snapshot.SectionSum(snapshot.KeyFeatures, features).String())
	assert.Equal(t, "7e139db9c3874304921a7814b1ddf4cee6b355fdba9975cf8fdbc3a114511ad7",
		snapshot.Checksum(map[string]map[string]string{snapshot.KeyFeatures: features}), "other sections are empty")
	assert.Equal(t, fmt.Sprintf("%064d", 0), snapshot.Checksum(nil), "the empty snapshot")
}

func TestSumAddSubWrap(t *testing.T) {
	t.Parallel()
	maxSum := snapshot.Sum{^uint64(0), ^uint64(0), ^uint64(0), ^uint64(0)}
	one := snapshot.Sum{0, 0, 0, 1}
	assert.Equal(t, snapshot.Sum{}, maxSum.Add(one), "2^256-1 + 1 wraps to 0")
	assert.Equal(t, maxSum, snapshot.Sum{}.Sub(one), "0 - 1 wraps to 2^256-1")
	assert.Equal(t, snapshot.Sum{0, 0, 1, 0}, snapshot.Sum{0, 0, 0, ^uint64(0)}.Add(one), "carry between words")
}

// TestSumsApplyMatchesRecompute applies random sets and deletes entry by
// entry and checks the incrementally kept sums against a recomputation from
// the resulting hashes after every step.
func TestSumsApplyMatchesRecompute(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	sections := map[string]map[string]string{}
	for _, k := range snapshot.DataKeys {
		sections[k] = map[string]string{}
	}
	sums := snapshot.SumsOf(sections)
	for step := range 2000 {
		key := snapshot.DataKeys[rng.IntN(len(snapshot.DataKeys))]
		op := ports.SnapshotOp{Key: key, Field: fmt.Sprintf("f%d", rng.IntN(20)), Value: fmt.Sprintf("v%d", rng.IntN(5)),
			Del: rng.IntN(3) == 0}
		old, had := sections[key][op.Field]
		sums.Apply(op, old, had)
		if op.Del {
			delete(sections[key], op.Field)
		} else {
			sections[key][op.Field] = op.Value
		}
		want := snapshot.SumsOf(sections)
		require.Equal(t, want, sums, "step %d", step)
		require.Equal(t, snapshot.Checksum(sections), sums.Total().String(), "step %d", step)
	}
}

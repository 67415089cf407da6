package snapshot

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// TestDeltaChecksumsMatchAFromScratchBuild mutates a configuration at
// random, step by step, and checks that the checksums the publisher carries
// over and updates per changed entry equal those of a from-scratch build.
func TestDeltaChecksumsMatchAFromScratchBuild(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	noDecrypt := func(int64, []byte) (string, error) { return "", nil }
	data := ports.SnapshotData{Features: map[string]string{}, GroupIDs: map[string]int64{"g": 1}}
	prev, err := Build(data, noDecrypt, now)
	require.NoError(t, err)
	for step := range 300 {
		switch rng.IntN(4) {
		case 0:
			name := fmt.Sprintf("flag_%d", rng.IntN(8))
			if rng.IntN(3) == 0 {
				delete(data.Features, name)
			} else {
				data.Features[name] = fmt.Sprint(rng.IntN(4))
			}
		case 1:
			i := rng.IntN(6)
			if i < len(data.Models) {
				data.Models[i].InputPricePerMTok = float64(rng.IntN(5))
			} else {
				data.Models = append(data.Models, domain.Model{ID: int64(len(data.Models) + 1), Namespace: "default",
					Name: fmt.Sprintf("m%d", len(data.Models)), Kind: domain.ModelChat, Status: domain.StatusActive})
			}
		case 2:
			i := rng.IntN(6)
			if i < len(data.Providers) {
				data.Providers[i].Weight = rng.IntN(5)
			} else {
				data.Providers = append(data.Providers, domain.Provider{ID: int64(len(data.Providers) + 1), Name: fmt.Sprint("p", i),
					Type: "openai", Group: "g", GroupID: 1, Models: []string{"m0"}, Status: domain.ProviderActive})
			}
		case 3:
			if len(data.Models) > 0 {
				data.Models = data.Models[:len(data.Models)-1]
			}
		}
		data.Version++
		want, err := Build(data, noDecrypt, now)
		require.NoError(t, err)
		ops := Diff(prev.Sections, want.Sections)
		// What the publisher keeps between deltas: the summary only.
		kept := &State{Version: prev.Version, Sections: prev.Sections}
		kept.compact()
		sums, counts := kept.Sums().Clone(), kept.Counts()
		for _, op := range ops {
			old, had := prev.Sections[op.Key][op.Field]
			sums.Apply(op, old, had)
			switch {
			case op.Del:
				counts[op.Key]--
			case !had:
				counts[op.Key]++
			}
		}
		require.Equal(t, SumsOf(want.Sections), sums, "step %d", step)
		require.Equal(t, want.Counts(), counts, "step %d", step)
		prev = want
	}
}

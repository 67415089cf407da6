package postgres

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// usageCover must cover every hour of the range exactly once with whole,
// aligned blocks, and with few of them: GET /stats/usage?group_by=key reads
// one usage_key row per key and block.
func TestUsageCoverIsExactAndSmall(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(14, 4))
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for range 5000 {
		h0 := base.Add(time.Duration(rng.IntN(24*60)) * time.Hour)
		h1 := h0.Add(time.Duration(rng.IntN(24*40)) * time.Hour)
		cover := usageCover(h0, h1)
		seen := map[time.Time]int{}
		blocks := 0
		for hours, spans := range cover {
			w := time.Duration(hours) * time.Hour
			limit := 2
			if hours == usageBlocks[0] {
				limit = 1
			}
			require.LessOrEqual(t, len(spans), limit, "spans of %dh", hours)
			for _, s := range spans {
				require.True(t, s.from.Before(s.to), "empty span")
				require.Equal(t, s.from, s.from.Truncate(w), "aligned start")
				require.Equal(t, s.to, s.to.Truncate(w), "aligned end")
				for b := s.from; b.Before(s.to); b = b.Add(w) {
					blocks++
					for h := b; h.Before(b.Add(w)); h = h.Add(time.Hour) {
						seen[h]++
					}
				}
			}
		}
		want := int(h1.Sub(h0) / time.Hour)
		require.Len(t, seen, want, "[%s, %s)", h0, h1)
		for h, n := range seen {
			require.Equal(t, 1, n, "hour %s", h)
			require.True(t, !h.Before(h0) && h.Before(h1), "hour %s outside [%s, %s)", h, h0, h1)
		}
		// Whole days, then at most 3 six-hour blocks and 5 hours at each end.
		assert.LessOrEqual(t, blocks, want/24+16)
	}
}

func TestUsageCoverOfAWeekFromSevenPM(t *testing.T) {
	t.Parallel()
	h0 := time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC)
	cover := usageCover(h0, h0.Add(7*24*time.Hour))
	day := func(d, h int) time.Time { return time.Date(2026, 11, d, h, 0, 0, 0, time.UTC) }
	assert.Equal(t, map[int][]hourSpan{
		24: {{day(24, 0), day(30, 0)}},
		6:  {{day(30, 0), day(30, 18)}},
		1:  {{day(23, 19), day(24, 0)}, {day(30, 18), day(30, 19)}},
	}, cover)
}

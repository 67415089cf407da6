package snapshot

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
)

func TestPublishedSummaryRoundTrips(t *testing.T) {
	s := &State{Version: 7, sums: Sums{}, counts: map[string]int{}}
	for i, k := range DataKeys {
		s.sums[k] = EntryDigest(k, "f", string(rune('a'+i)))
		s.counts[k] = i
	}
	pub := summary(s, s.ClockFrom)
	back, ok := stateFrom(&pub)
	require.True(t, ok)
	assert.Equal(t, s.Sums(), back.Sums())
	assert.Equal(t, s.Counts(), back.Counts())
	assert.Equal(t, s.Checksum(), back.Checksum())

	pub.Checksum = Sum{}.String() // a summary whose total does not add up
	_, ok = stateFrom(&pub)
	assert.False(t, ok)
	pub = summary(s, s.ClockFrom)
	pub.Checksums[KeyModels] = "xyz"
	_, ok = stateFrom(&pub)
	assert.False(t, ok)
}

func TestKeyIDReadsThePublishedID(t *testing.T) {
	k := domain.Key{ID: 42, TokenHash: "abc", Status: domain.KeyActive}
	for _, v := range keyEntries(k, domain.Master{}, k.CreatedAt) {
		assert.Equal(t, "42", keyID(v))
	}
	assert.Equal(t, "", keyID(`{"tampered":true}`))
	assert.Equal(t, "", keyID(`{"id":5}`))
}

func TestDriftNamesTheDataAndIndexHashes(t *testing.T) {
	sum := EntryDigest(KeyAuthKeys, "f", "v")
	link := EntryDigest(IndexKeys[0], "1", "f")
	ok := sectionScan{sum: sum, count: 1, link: link, indexLink: link}
	assert.Empty(t, drift(KeyAuthKeys, ok, sum, 1))
	assert.Equal(t, []string{KeyAuthKeys}, drift(KeyAuthKeys, ok, sum, 2), "a count alone differs")
	noIndex := ok
	noIndex.indexLink = Sum{}
	assert.Equal(t, []string{IndexKeys[0]}, drift(KeyAuthKeys, noIndex, sum, 1))
	assert.Empty(t, drift(KeyFeatures, sectionScan{}, Sum{}, 0), "features has no index")
}

package domain_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
)

func TestFetchPage(t *testing.T) {
	all := []int64{1, 2, 3, 4, 5}
	fetch := func(p domain.Page) ([]int64, error) {
		var out []int64
		for _, v := range all {
			if v > p.After && len(out) < p.Limit {
				out = append(out, v)
			}
		}
		return out, nil
	}
	id := func(v int64) int64 { return v }

	items, next, err := domain.FetchPage(domain.Page{Limit: 2}, fetch, id)
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2}, items)
	assert.Equal(t, int64(2), next)

	items, next, err = domain.FetchPage(domain.Page{Limit: 2, After: 4}, fetch, id)
	require.NoError(t, err)
	assert.Equal(t, []int64{5}, items)
	assert.Zero(t, next, "last page")

	items, next, err = domain.FetchPage(domain.Page{Limit: 3, After: 2}, fetch, id)
	require.NoError(t, err)
	assert.Equal(t, []int64{3, 4, 5}, items)
	assert.Zero(t, next, "exactly the rest: no further page")

	boom := errors.New("boom")
	_, _, err = domain.FetchPage(domain.Page{Limit: 2}, func(domain.Page) ([]int64, error) { return nil, boom }, id)
	assert.ErrorIs(t, err, boom)
}

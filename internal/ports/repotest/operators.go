// Package repotest is the behavioural suite every repository
// implementation passes: the in-memory fakes and PostgreSQL alike.
package repotest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

// OperatorRepository checks an implementation against the port's contract.
// newRepo must return an empty repository each call.
func OperatorRepository(t *testing.T, newRepo func(t *testing.T) ports.OperatorRepository) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	op := func(name string, role domain.Role) domain.Operator {
		return domain.Operator{Username: name, PasswordHash: "h", Role: role, Status: domain.OperatorActive, CreatedAt: now, UpdatedAt: now}
	}

	t.Run("create_then_get_by_id_and_username", func(t *testing.T) {
		r := newRepo(t)
		created, err := r.Create(ctx, op("Alice", domain.RoleAdmin))
		require.NoError(t, err)
		assert.Positive(t, created.ID)
		got, err := r.Get(ctx, created.ID)
		require.NoError(t, err)
		assert.Equal(t, "Alice", got.Username)
		assert.Equal(t, domain.RoleAdmin, got.Role)
		byName, err := r.GetByUsername(ctx, "alice")
		require.NoError(t, err, "usernames match regardless of case")
		assert.Equal(t, created.ID, byName.ID)
	})

	t.Run("duplicate_username_any_case_is_conflict", func(t *testing.T) {
		r := newRepo(t)
		_, err := r.Create(ctx, op("bob", domain.RoleViewer))
		require.NoError(t, err)
		_, err = r.Create(ctx, op("BOB", domain.RoleViewer))
		assert.ErrorIs(t, err, domain.ErrConflict)
	})

	t.Run("missing_rows_are_not_found", func(t *testing.T) {
		r := newRepo(t)
		_, err := r.Get(ctx, 424242)
		assert.ErrorIs(t, err, domain.ErrNotFound)
		_, err = r.GetByUsername(ctx, "nobody")
		assert.ErrorIs(t, err, domain.ErrNotFound)
		assert.ErrorIs(t, r.Delete(ctx, 424242), domain.ErrNotFound)
		_, err = r.Update(ctx, domain.Operator{ID: 424242, Role: domain.RoleViewer, Status: domain.OperatorActive})
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})

	t.Run("list_pages_in_id_order", func(t *testing.T) {
		r := newRepo(t)
		var ids []int64
		for _, n := range []string{"p1", "p2", "p3"} {
			o, err := r.Create(ctx, op(n, domain.RoleViewer))
			require.NoError(t, err)
			ids = append(ids, o.ID)
		}
		page, err := r.List(ctx, domain.Page{Limit: 2})
		require.NoError(t, err)
		require.Len(t, page, 2)
		assert.Equal(t, ids[:2], []int64{page[0].ID, page[1].ID})
		page, err = r.List(ctx, domain.Page{Limit: 2, After: ids[1]})
		require.NoError(t, err)
		require.Len(t, page, 1)
		assert.Equal(t, ids[2], page[0].ID)
	})

	t.Run("update_delete_and_admin_queries", func(t *testing.T) {
		r := newRepo(t)
		any, err := r.AnyAdmin(ctx)
		require.NoError(t, err)
		assert.False(t, any)
		a, err := r.Create(ctx, op("root", domain.RoleAdmin))
		require.NoError(t, err)
		v, err := r.Create(ctx, op("watcher", domain.RoleViewer))
		require.NoError(t, err)
		ids, err := r.LockActiveAdmins(ctx)
		require.NoError(t, err)
		assert.Equal(t, []int64{a.ID}, ids)

		a.Status = domain.OperatorDisabled
		_, err = r.Update(ctx, a)
		require.NoError(t, err)
		ids, err = r.LockActiveAdmins(ctx)
		require.NoError(t, err)
		assert.Empty(t, ids)
		any, err = r.AnyAdmin(ctx)
		require.NoError(t, err)
		assert.True(t, any, "a disabled admin still exists")

		require.NoError(t, r.TouchLogin(ctx, v.ID, now))
		got, err := r.Get(ctx, v.ID)
		require.NoError(t, err)
		require.NotNil(t, got.LastLoginAt)
		assert.True(t, now.Equal(*got.LastLoginAt))
		require.NoError(t, r.Delete(ctx, v.ID))
		_, err = r.Get(ctx, v.ID)
		assert.ErrorIs(t, err, domain.ErrNotFound)
	})
}

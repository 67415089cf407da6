package operators_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/operators"
	"github.com/ez-api/ez-api/internal/ports/fakes"
)

type fixture struct {
	svc   *operators.Service
	repo  *fakes.Operators
	audit *fakes.Audit
	cache *fakes.Cache
}

func newFixture() fixture {
	f := fixture{repo: fakes.NewOperators(), audit: &fakes.Audit{}, cache: &fakes.Cache{}}
	f.svc = operators.NewService(f.repo, fakes.Hasher{}, f.audit, fakes.TxRunner{}, &fakes.Clock{T: time.Unix(1000, 0)}, f.cache)
	return f
}

const pw = "a long enough passphrase"

func TestCreate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cases := []struct {
		name     string
		username string
		password string
		role     domain.Role
		field    string
	}{
		{"rejects_short_password", "alice", "short", domain.RoleViewer, "password"},
		{"rejects_unknown_role", "alice", pw, "root", "role"},
		{"rejects_balancer_role", "alice", pw, domain.RoleBalancer, "role"},
		{"rejects_bad_username", "a", pw, domain.RoleViewer, "username"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture()
			_, err := f.svc.Create(ctx, tc.username, tc.password, tc.role)
			var ve *domain.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Equal(t, tc.field, ve.Fields[0].Field)
			assert.Empty(t, f.audit.Entries, "nothing written")
		})
	}
	t.Run("stores_a_hash_and_audits_without_the_password", func(t *testing.T) {
		t.Parallel()
		f := newFixture()
		op, err := f.svc.Create(ctx, "alice", pw, domain.RoleDeveloper)
		require.NoError(t, err)
		assert.Equal(t, "fake$"+pw, op.PasswordHash)
		require.Len(t, f.audit.Entries, 1)
		assert.Equal(t, domain.Redacted, f.audit.Entries[0].Changes["password"])
	})
}

func TestLastActiveAdminRule(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	disabled := domain.OperatorDisabled
	viewer := domain.RoleViewer

	f := newFixture()
	a1, err := f.svc.Bootstrap(ctx, "root", pw)
	require.NoError(t, err)
	_, err = f.svc.Bootstrap(ctx, "again", pw)
	assert.ErrorIs(t, err, domain.ErrConflict, "bootstrap refuses when an admin exists")

	_, err = f.svc.Update(ctx, a1.ID, domain.OperatorPatch{Status: &disabled})
	assert.ErrorIs(t, err, domain.ErrConflict)
	_, err = f.svc.Update(ctx, a1.ID, domain.OperatorPatch{Role: &viewer})
	assert.ErrorIs(t, err, domain.ErrConflict)
	assert.ErrorIs(t, f.svc.Delete(ctx, a1.ID), domain.ErrConflict)

	a2, err := f.svc.Create(ctx, "second", pw, domain.RoleAdmin)
	require.NoError(t, err)
	_, err = f.svc.Update(ctx, a1.ID, domain.OperatorPatch{Role: &viewer})
	require.NoError(t, err, "with a second admin the first may be demoted")
	assert.ErrorIs(t, f.svc.Delete(ctx, a2.ID), domain.ErrConflict, "now a2 is the last one")
	assert.Equal(t, 1, f.cache.Invalidations, "a successful change invalidates cached credentials")

	// A disabled admin does not count.
	_, err = f.svc.Update(ctx, a1.ID, domain.OperatorPatch{Status: &disabled})
	require.NoError(t, err)
	admin := domain.RoleAdmin
	_, err = f.svc.Update(ctx, a1.ID, domain.OperatorPatch{Role: &admin})
	require.NoError(t, err)
	assert.ErrorIs(t, f.svc.Delete(ctx, a2.ID), domain.ErrConflict)
}

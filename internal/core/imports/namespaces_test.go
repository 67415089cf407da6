package imports

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/ez-api/ez-api/internal/core/domain"
)

func TestMasterNamespaces(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      Master
		wantNS  []string
		wantDef string
	}{
		{name: "none", in: Master{}, wantNS: nil, wantDef: ""},
		{name: "kept", in: Master{Namespaces: []string{"default", "vip"}, DefaultNamespace: "vip"},
			wantNS: []string{"default", "vip"}, wantDef: "vip"},
		{name: "lower-cased and deduplicated", in: Master{Namespaces: []string{" VIP ", "vip", ""}},
			wantNS: []string{"vip"}, wantDef: "vip"},
		{name: "default outside the list is not added", in: Master{Namespaces: []string{"a"}, DefaultNamespace: "b"},
			wantNS: []string{"a"}, wantDef: "a"},
		{name: "invalid name kept for validation to refuse", in: Master{Namespaces: []string{"no spaces"}},
			wantNS: []string{"no spaces"}, wantDef: "no spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rep Report
			ns, def := masterNamespaces("masters[0]", "m", tt.in, &rep)
			assert.Equal(t, tt.wantNS, ns)
			assert.Equal(t, tt.wantDef, def)
		})
	}
}

func TestKeyNamespacesOnlyNarrow(t *testing.T) {
	t.Parallel()
	restricted := domain.Master{Name: "m", Namespaces: []string{"a", "b"}, DefaultNamespace: "b"}
	open := domain.Master{Name: "o", DefaultNamespace: domain.DefaultNamespace}
	tests := []struct {
		name     string
		in       []string
		master   domain.Master
		wantNS   []string
		wantDef  string
		keep     bool
		reported int
	}{
		{name: "inherits", master: restricted, wantDef: "b", keep: true},
		{name: "narrows", in: []string{"a"}, master: restricted, wantNS: []string{"a"}, wantDef: "a", keep: true},
		{name: "drops what the master lacks", in: []string{"A", "z"}, master: restricted, wantNS: []string{"a"},
			wantDef: "a", keep: true, reported: 1},
		{name: "skipped when nothing is left", in: []string{"z", "bad name"}, master: restricted, keep: false,
			reported: 3},
		{name: "open master takes any valid name", in: []string{"x"}, master: open, wantNS: []string{"x"},
			wantDef: "x", keep: true},
		{name: "open master, no list", master: open, wantDef: domain.DefaultNamespace, keep: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var rep Report
			ns, def, keep := keyNamespaces("keys[0]", "sk-x", tt.in, tt.master, &rep)
			assert.Equal(t, tt.keep, keep)
			assert.Len(t, rep.Decisions, tt.reported)
			if keep {
				assert.Equal(t, tt.wantNS, ns)
				assert.Equal(t, tt.wantDef, def)
			}
		})
	}
}

package routing_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/routing"
)

func cand(t domain.SelectorType, v string) domain.BindingCandidate {
	return domain.BindingCandidate{RouteGroup: "default", Weight: 1, SelectorType: t, SelectorValue: v}
}

func prov(id int64, models ...string) domain.ProviderRef {
	return domain.ProviderRef{ID: id, Models: models}
}

func TestResolve(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name      string
		cand      domain.BindingCandidate
		providers []domain.ProviderRef
		want      map[int64]string // nil: want an error
		wantErr   string
		detail    []string // substrings of Detail
	}{
		{
			name:      "exact_hit",
			cand:      cand(domain.SelectorExact, "gpt-4o"),
			providers: []domain.ProviderRef{prov(1, "gpt-4o", "gpt-4o-mini")},
			want:      map[int64]string{1: "gpt-4o"},
		},
		{
			name:      "exact_miss_is_no_provider",
			cand:      cand(domain.SelectorExact, "gpt-5"),
			providers: []domain.ProviderRef{prov(1, "gpt-4o", "gpt-4o-mini")},
			wantErr:   domain.ResolutionNoProvider,
			detail:    []string{"no active provider", `"default"`, `"gpt-5"`},
		},
		{
			name:      "exact_is_case_sensitive",
			cand:      cand(domain.SelectorExact, "GPT-4o"),
			providers: []domain.ProviderRef{prov(1, "gpt-4o")},
			wantErr:   domain.ResolutionNoProvider,
		},
		{
			name:      "exact_compares_trimmed_ids_but_does_not_strip_prefix",
			cand:      cand(domain.SelectorExact, "gpt-4o"),
			providers: []domain.ProviderRef{prov(1, "openai/gpt-4o", " gpt-4o\t"), prov(2, "openai/gpt-4o")},
			want:      map[int64]string{1: "gpt-4o"},
		},
		{
			name:      "exact_trims_the_selector_value",
			cand:      cand(domain.SelectorExact, " gpt-4o "),
			providers: []domain.ProviderRef{prov(1, "gpt-4o")},
			want:      map[int64]string{1: "gpt-4o"},
		},
		{
			name:      "exact_takes_the_first_hit_when_a_model_is_listed_twice",
			cand:      cand(domain.SelectorExact, "gpt-4o"),
			providers: []domain.ProviderRef{prov(1, "gpt-4o", " gpt-4o ")},
			want:      map[int64]string{1: "gpt-4o"},
		},
		{
			name:      "empty_value_without_public_model_is_config_error",
			cand:      cand(domain.SelectorExact, "  "),
			providers: []domain.ProviderRef{prov(1, "gpt-4o")},
			wantErr:   domain.ResolutionConfigError,
			detail:    []string{"selector_value: missing"},
		},
		{
			name:      "empty_value_resolves_the_public_model",
			cand:      routing.WithPublicModel(cand(domain.SelectorExact, ""), "gpt-4o"),
			providers: []domain.ProviderRef{prov(1, "gpt-4o-mini", "gpt-4o")},
			want:      map[int64]string{1: "gpt-4o"},
		},
		{
			name:      "blank_value_resolves_the_trimmed_public_model",
			cand:      routing.WithPublicModel(cand(domain.SelectorNormalizeExact, " \t"), " Moonshot/Kimi-K2 "),
			providers: []domain.ProviderRef{prov(4, "kimi-k2"), prov(5, "kimi")},
			want:      map[int64]string{4: "kimi-k2"},
		},
		{
			name:      "non_blank_value_wins_over_public_model",
			cand:      routing.WithPublicModel(cand(domain.SelectorExact, "gpt-4o-mini"), "gpt-4o"),
			providers: []domain.ProviderRef{prov(1, "gpt-4o-mini", "gpt-4o")},
			want:      map[int64]string{1: "gpt-4o-mini"},
		},
		{
			name:      "regex_is_applied_to_trimmed_value_and_trimmed_ids",
			cand:      cand(domain.SelectorRegex, " ^gpt-4o$ "),
			providers: []domain.ProviderRef{prov(1, " gpt-4o ", "gpt-4o-mini")},
			want:      map[int64]string{1: "gpt-4o"},
		},
		{
			name:      "regex_skips_blank_ids",
			cand:      cand(domain.SelectorRegex, "^\\s*$|^gpt$"),
			providers: []domain.ProviderRef{prov(1, "", "   ", "gpt")},
			want:      map[int64]string{1: "gpt"},
		},
		{
			name:      "normalize_exact_keeps_a_trailing_slash",
			cand:      cand(domain.SelectorNormalizeExact, "kimi/"),
			providers: []domain.ProviderRef{prov(1, "KIMI/", "moonshot/kimi")},
			want:      map[int64]string{1: "KIMI/"},
		},
		{
			name:      "regex_is_unanchored",
			cand:      cand(domain.SelectorRegex, "4o-mini"),
			providers: []domain.ProviderRef{prov(1, "gpt-4o", "openai/gpt-4o-mini-2024")},
			want:      map[int64]string{1: "openai/gpt-4o-mini-2024"},
		},
		{
			name:      "regex_anchored_by_user",
			cand:      cand(domain.SelectorRegex, "^gpt-4o$"),
			providers: []domain.ProviderRef{prov(1, "gpt-4o", "gpt-4o-mini", "openai/gpt-4o")},
			want:      map[int64]string{1: "gpt-4o"},
		},
		{
			name:      "regex_hitting_two_models_is_config_error",
			cand:      cand(domain.SelectorRegex, "gpt-4o"),
			providers: []domain.ProviderRef{prov(7, "gpt-4o-mini", "gpt-4o", "claude")},
			wantErr:   domain.ResolutionConfigError,
			detail:    []string{"provider 7", `"gpt-4o", "gpt-4o-mini"`},
		},
		{
			name:      "invalid_regex_is_config_error",
			cand:      cand(domain.SelectorRegex, "gpt-(4o"),
			providers: []domain.ProviderRef{prov(1, "gpt-4o")},
			wantErr:   domain.ResolutionConfigError,
			detail:    []string{"invalid regex", "missing closing )"},
		},
		{
			name:    "invalid_regex_wins_over_no_provider",
			cand:    cand(domain.SelectorRegex, "[a-"),
			wantErr: domain.ResolutionConfigError,
			detail:  []string{"invalid regex"},
		},
		{
			name:      "normalize_exact_ignores_case_whitespace_and_prefix",
			cand:      cand(domain.SelectorNormalizeExact, "  OpenAI/GPT-4o "),
			providers: []domain.ProviderRef{prov(1, "gpt-4o-mini", "azure/deployments/Gpt-4O")},
			want:      map[int64]string{1: "azure/deployments/Gpt-4O"},
		},
		{
			name:      "normalize_exact_strips_models_prefix",
			cand:      cand(domain.SelectorNormalizeExact, "gemini-2.5-pro"),
			providers: []domain.ProviderRef{prov(3, "models/gemini-2.5-pro", "models/gemini-2.5-flash")},
			want:      map[int64]string{3: "models/gemini-2.5-pro"},
		},
		{
			name:      "normalize_exact_hitting_two_spellings_is_config_error",
			cand:      cand(domain.SelectorNormalizeExact, "gpt-4o"),
			providers: []domain.ProviderRef{prov(2, "gpt-4o", "openai/GPT-4o")},
			wantErr:   domain.ResolutionConfigError,
			detail:    []string{"provider 2", `"gpt-4o", "openai/GPT-4o"`},
		},
		{
			name:      "normalize_exact_of_trailing_slash_only_matches_that_id",
			cand:      cand(domain.SelectorNormalizeExact, "a/b/"),
			providers: []domain.ProviderRef{prov(1, "x/", "", "/", "b"), prov(2, "A/B/")},
			want:      map[int64]string{2: "A/B/"},
		},
		{
			name:      "normalize_exact_counts_a_model_listed_twice_as_two_hits",
			cand:      cand(domain.SelectorNormalizeExact, "gpt-4o"),
			providers: []domain.ProviderRef{prov(1, "gpt-4o", "gpt-4o")},
			wantErr:   domain.ResolutionConfigError,
			detail:    []string{"provider 1", `"gpt-4o", "gpt-4o"`},
		},
		{
			name:    "zero_providers_is_no_provider",
			cand:    cand(domain.SelectorExact, "gpt-4o"),
			wantErr: domain.ResolutionNoProvider,
			detail:  []string{"no active provider"},
		},
		{
			name:      "providers_with_zero_hits_are_skipped",
			cand:      cand(domain.SelectorExact, "gpt-4o"),
			providers: []domain.ProviderRef{prov(1, "claude"), prov(2, "gpt-4o"), prov(3), prov(4, "gpt-4o")},
			want:      map[int64]string{2: "gpt-4o", 4: "gpt-4o"},
		},
		{
			name:      "regex_counts_a_model_listed_twice_as_two_hits",
			cand:      cand(domain.SelectorRegex, "^gpt-4o$"),
			providers: []domain.ProviderRef{prov(1, "gpt-4o", "gpt-4o", "claude")},
			wantErr:   domain.ResolutionConfigError,
			detail:    []string{"provider 1", "2 models"},
		},
		{
			name: "mix_of_providers_maps_each_to_its_own_model",
			cand: cand(domain.SelectorNormalizeExact, "gpt-4o"),
			providers: []domain.ProviderRef{
				prov(10, "openai/gpt-4o", "openai/gpt-4o-mini"),
				prov(11, "claude-3"),
				prov(12, "GPT-4o"),
			},
			want: map[int64]string{10: "openai/gpt-4o", 12: "GPT-4o"},
		},
		{
			name: "one_ambiguous_provider_fails_the_whole_candidate",
			cand: cand(domain.SelectorRegex, "gpt"),
			providers: []domain.ProviderRef{
				prov(1, "gpt-4o"),
				prov(2, "gpt-4o", "gpt-4o-mini"),
			},
			wantErr: domain.ResolutionConfigError,
			detail:  []string{"provider 2"},
		},
		{
			name: "ambiguity_is_reported_for_the_lowest_provider_id",
			cand: cand(domain.SelectorRegex, "gpt"),
			providers: []domain.ProviderRef{
				prov(9, "gpt-a", "gpt-b"),
				prov(5, "gpt-c", "gpt-d"),
			},
			wantErr: domain.ResolutionConfigError,
			detail:  []string{"provider 5", `"gpt-c", "gpt-d"`},
		},
		{
			name:      "unknown_selector_type_is_config_error",
			cand:      cand("glob", "gpt-*"),
			providers: []domain.ProviderRef{prov(1, "gpt-4o")},
			wantErr:   domain.ResolutionConfigError,
			detail:    []string{`"glob"`},
		},
		{
			name:      "empty_selector_type_is_exact",
			cand:      cand("", "gpt-4o"),
			providers: []domain.ProviderRef{prov(1, "openai/gpt-4o", "gpt-4o")},
			want:      map[int64]string{1: "gpt-4o"},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := routing.Resolve(tt.cand, tt.providers)
			if tt.want != nil {
				assert.Equal(t, "ok", got.Status)
				assert.Empty(t, got.Error)
				assert.Empty(t, got.Detail)
				assert.Equal(t, tt.want, got.Upstreams)
				return
			}
			assert.Equal(t, "error", got.Status)
			assert.Equal(t, tt.wantErr, got.Error)
			assert.Nil(t, got.Upstreams)
			for _, s := range tt.detail {
				assert.Contains(t, got.Detail, s)
			}
		})
	}
}

func TestResolve_is_independent_of_provider_order(t *testing.T) {
	t.Parallel()

	providers := []domain.ProviderRef{
		prov(3, "gpt-x", "gpt-y"),
		prov(1, "gpt-4o"),
		prov(2, "gpt-a", "gpt-b"),
	}
	reversed := []domain.ProviderRef{providers[2], providers[1], providers[0]}

	for _, c := range []domain.BindingCandidate{
		cand(domain.SelectorRegex, "gpt"),
		cand(domain.SelectorRegex, "^gpt-(4o|x|a)$"),
		cand(domain.SelectorExact, "gpt-4o"),
	} {
		assert.Equal(t, routing.Resolve(c, providers), routing.Resolve(c, reversed), c.SelectorValue)
	}
}

func TestResolve_ok_upstreams_is_non_nil(t *testing.T) {
	t.Parallel()

	got := routing.Resolve(cand(domain.SelectorExact, "m"), []domain.ProviderRef{prov(1, "m")})
	require.Equal(t, "ok", got.Status)
	assert.NotNil(t, got.Upstreams)
}

func TestNormalizeModelID(t *testing.T) {
	t.Parallel()

	tests := []struct{ in, want string }{
		{"gpt-4o", "gpt-4o"},
		{"  OpenAI/GPT-4o ", "gpt-4o"},
		{"models/gemini-2.5-pro", "gemini-2.5-pro"},
		{"moonshot/kimi2", "kimi2"},
		{"a/b/c", "c"},
		{"a/ B ", "b"},
		{"kimi/", "kimi/"},
		{"a/b/", "a/b/"},
		{"a/b/ ", "a/b/"},
		{"/", "/"},
		{"/x", "x"},
		{"", ""},
		{"   ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, routing.NormalizeModelID(tt.in))
		})
	}
}

func TestValidateSelector(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		typ     domain.SelectorType
		value   string
		wantErr []string // substrings; empty means valid
	}{
		{name: "accepts_exact", typ: domain.SelectorExact, value: "gpt-4o"},
		{name: "accepts_regex", typ: domain.SelectorRegex, value: "^gpt-4o(-mini)?$"},
		{name: "accepts_normalize_exact", typ: domain.SelectorNormalizeExact, value: "OpenAI/GPT-4o"},
		{name: "accepts_value_of_exactly_512_bytes", typ: domain.SelectorExact, value: strings.Repeat("a", 512)},
		{name: "rejects_unknown_type", typ: "glob", value: "gpt-*", wantErr: []string{"selector_type", `"glob"`}},
		{name: "accepts_empty_type_as_exact", typ: "", value: "gpt-4o"},
		{name: "accepts_empty_value_as_the_public_model", typ: domain.SelectorExact, value: ""},
		{name: "accepts_empty_regex_as_the_public_model", typ: domain.SelectorRegex, value: "  "},
		{name: "accepts_regex_with_surrounding_space", typ: domain.SelectorRegex, value: " ^gpt$ "},
		{name: "rejects_value_over_512_bytes", typ: domain.SelectorExact, value: strings.Repeat("a", 513), wantErr: []string{"512"}},
		{name: "rejects_regex_that_does_not_compile", typ: domain.SelectorRegex, value: "gpt-(4o", wantErr: []string{"selector_value: invalid regex: missing closing )"}},
		{name: "rejects_perl_lookahead_unsupported_by_re2", typ: domain.SelectorRegex, value: "gpt(?!-mini)", wantErr: []string{"invalid regex"}},
		{name: "accepts_normalize_exact_ending_in_slash", typ: domain.SelectorNormalizeExact, value: "kimi/"},
		{name: "accepts_normalize_exact_of_only_whitespace", typ: domain.SelectorNormalizeExact, value: "   "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := routing.ValidateSelector(tt.typ, tt.value)
			if len(tt.wantErr) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, s := range tt.wantErr {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

// A provider the candidate does not hit leaves its resolution as it was:
// what lets a provider change skip the bindings it cannot affect.
func TestHits_a_provider_not_hit_does_not_change_the_resolution(t *testing.T) {
	t.Parallel()
	cands := []domain.BindingCandidate{
		cand(domain.SelectorExact, "gpt-4o"), cand("", " gpt-4o "), cand(domain.SelectorNormalizeExact, "openai/GPT-4o"),
		cand(domain.SelectorRegex, "^gpt-4"), cand(domain.SelectorRegex, "mini$"), cand(domain.SelectorRegex, "(unclosed"),
		cand(domain.SelectorExact, ""), cand("bogus", "gpt-4o"),
	}
	groups := [][]domain.ProviderRef{
		nil,
		{prov(1, "gpt-4o")},
		{prov(1, "gpt-4o", "gpt-4o-mini"), prov(2, "claude-3")},
		{prov(3, "GPT-4o"), prov(4, "x/gpt-4o")},
	}
	others := [][]string{{}, {"gpt-4o"}, {" gpt-4o"}, {"gpt-4o-mini"}, {"claude-3", "o1-mini"}, {"azure/gpt-4o"}, {"gemini"}}
	for _, c := range cands {
		for _, g := range groups {
			for _, models := range others {
				x := prov(99, models...)
				if routing.Hits(c, models, nil) {
					continue
				}
				assert.Equal(t, routing.Resolve(c, g), routing.Resolve(c, append(append([]domain.ProviderRef{}, g...), x)),
					"candidate %+v, providers %v, unhit provider %v", c, g, models)
			}
		}
	}
	assert.True(t, routing.Hits(cand(domain.SelectorRegex, "^gpt-4"), []string{"claude", "gpt-4o"}, nil))
	assert.False(t, routing.Hits(cand(domain.SelectorRegex, "(unclosed"), []string{"(unclosed"}, nil))

	// A regex that runs out of its binding's budget counts as a hit: the
	// binding is then resolved in full, where the budget fails it closed.
	start, calls := time.Unix(0, 0), 0
	clock := func() time.Time { calls++; return start.Add(time.Duration(calls) * time.Hour) }
	many := make([]string, 64)
	for i := range many {
		many[i] = fmt.Sprintf("claude-%d", i)
	}
	assert.False(t, routing.Hits(cand(domain.SelectorRegex, "^gpt-4"), many, nil))
	assert.True(t, routing.Hits(cand(domain.SelectorRegex, "^gpt-4"), many, routing.NewBudget(time.Minute, clock)))
}

package routing_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/routing"
)

// splitModels turns a fuzz string into a model list: "," separates models.
func splitModels(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func FuzzResolve(f *testing.F) {
	f.Add("exact", "gpt-4o", int64(1), "gpt-4o,gpt-4o-mini", int64(2), "claude")
	f.Add("regex", "gpt", int64(1), "gpt-4o,gpt-4o-mini", int64(2), "gpt-4o")
	f.Add("regex", "^gpt-4o$", int64(1), "gpt-4o,gpt-4o", int64(1), "openai/gpt-4o")
	f.Add("regex", "gpt-(4o", int64(1), "gpt-4o", int64(2), "")
	f.Add("normalize_exact", "  OpenAI/GPT-4o ", int64(5), "gpt-4o,x/GPT-4O", int64(-3), "models/gpt-4o")
	f.Add("normalize_exact", "a/b/", int64(1), "x/,/,", int64(2), "b")
	f.Add("glob", "*", int64(0), "a", int64(0), "b")

	f.Fuzz(func(t *testing.T, typ, value string, id1 int64, models1 string, id2 int64, models2 string) {
		c := domain.BindingCandidate{RouteGroup: "g", SelectorType: domain.SelectorType(typ), SelectorValue: value}
		providers := []domain.ProviderRef{
			{ID: id1, Models: splitModels(models1)},
			{ID: id2, Models: splitModels(models2)},
		}

		got := routing.Resolve(c, providers)

		switch got.Status {
		case "ok":
			if got.Error != "" {
				t.Fatalf("status ok with error %q", got.Error)
			}
		case "error":
			if got.Error != domain.ResolutionConfigError && got.Error != domain.ResolutionNoProvider {
				t.Fatalf("status error with error %q", got.Error)
			}
			if len(got.Upstreams) != 0 {
				t.Fatalf("error resolution has upstreams %v", got.Upstreams)
			}
		default:
			t.Fatalf("unexpected status %q", got.Status)
		}

		reversed := routing.Resolve(c, []domain.ProviderRef{providers[1], providers[0]})
		if reversed.Status != got.Status || reversed.Error != got.Error || reversed.Detail != got.Detail ||
			len(reversed.Upstreams) != len(got.Upstreams) {
			t.Fatalf("depends on provider order: %+v vs %+v", got, reversed)
		}
		for id, m := range got.Upstreams {
			if reversed.Upstreams[id] != m {
				t.Fatalf("depends on provider order: %+v vs %+v", got, reversed)
			}
		}

		if got.Status != "ok" {
			return
		}
		if len(got.Upstreams) == 0 {
			t.Fatal("ok resolution without upstreams")
		}
		match := oracle(t, c)
		for id, m := range got.Upstreams {
			listed := false
			for _, p := range providers {
				if p.ID == id && slices.Contains(p.Models, m) {
					listed = true
				}
			}
			if !listed {
				t.Fatalf("provider %d mapped to %q, which it does not list", id, m)
			}
			if !match(m) {
				t.Fatalf("provider %d mapped to %q, which the selector does not match", id, m)
			}
		}
	})
}

// oracle re-states the selector rules independently of the implementation.
func oracle(t *testing.T, c domain.BindingCandidate) func(string) bool {
	t.Helper()
	switch c.SelectorType {
	case domain.SelectorExact:
		return func(m string) bool { return m == c.SelectorValue }
	case domain.SelectorRegex:
		re, err := regexp.Compile(c.SelectorValue)
		if err != nil {
			t.Fatalf("ok resolution for invalid regex %q: %v", c.SelectorValue, err)
		}
		return re.MatchString
	case domain.SelectorNormalizeExact:
		want := routing.Normalize(c.SelectorValue)
		return func(m string) bool { return want != "" && routing.Normalize(m) == want }
	default:
		t.Fatalf("ok resolution for unknown selector type %q", c.SelectorType)
		return nil
	}
}

package routing_test

import (
	"regexp"
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

// The outcomes of the published ResolveUpstreamModel for one provider.
const (
	origHit      = "hit"
	origNoMatch  = "no_match" // "no match…", the provider is skipped
	origMultiple = "multiple" // the unique-hit rule broken
	origInvalid  = "invalid"  // value missing, bad regex, unsupported type
)

// originalNormalize states EZ-Api/foundation routing.NormalizeModelID.
func originalNormalize(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	if id == "" {
		return ""
	}
	if i := strings.LastIndex(id, "/"); i >= 0 && i+1 < len(id) {
		id = id[i+1:]
	}
	return strings.TrimSpace(id)
}

// originalResolve states EZ-Api/foundation routing.ResolveUpstreamModel for
// one provider's model list, step by step as published.
func originalResolve(typ, value, publicModel string, models []string) (string, string) {
	v := strings.TrimSpace(value)
	if v == "" {
		v = strings.TrimSpace(publicModel)
	}
	if v == "" {
		return "", origInvalid
	}
	switch typ {
	case "", "exact":
		for _, m := range models {
			if strings.TrimSpace(m) == v {
				return strings.TrimSpace(m), origHit
			}
		}
		return "", origNoMatch
	case "regex":
		re, err := regexp.Compile(v)
		if err != nil {
			return "", origInvalid
		}
		var hits []string
		for _, m := range models {
			if t := strings.TrimSpace(m); t != "" && re.MatchString(t) {
				hits = append(hits, t)
			}
		}
		switch len(hits) {
		case 0:
			return "", origNoMatch
		case 1:
			return hits[0], origHit
		}
		return "", origMultiple
	case "normalize_exact":
		want := originalNormalize(v)
		hit := ""
		for _, m := range models {
			t := strings.TrimSpace(m)
			if t == "" || originalNormalize(t) != want {
				continue
			}
			if hit != "" {
				return "", origMultiple
			}
			hit = t
		}
		if hit == "" {
			return "", origNoMatch
		}
		return hit, origHit
	}
	return "", origInvalid
}

// originalCandidate applies originalResolve to every provider (a provider
// id listed twice serves both lists) under the candidate rule: an invalid
// selector or a provider hit more than once fails the candidate
// (config_error), no hit anywhere is no_provider.
func originalCandidate(typ, value, publicModel string, providers []domain.ProviderRef) (string, map[int64]string) {
	models := map[int64][]string{}
	var order []int64
	for _, p := range providers {
		if _, ok := models[p.ID]; !ok {
			order = append(order, p.ID)
		}
		models[p.ID] = append(models[p.ID], p.Models...)
	}
	if _, outcome := originalResolve(typ, value, publicModel, nil); outcome == origInvalid {
		return domain.ResolutionConfigError, nil
	}
	up := map[int64]string{}
	for _, id := range order {
		m, outcome := originalResolve(typ, value, publicModel, models[id])
		switch outcome {
		case origHit:
			up[id] = m
		case origMultiple, origInvalid:
			return domain.ResolutionConfigError, nil
		}
	}
	if len(up) == 0 {
		return domain.ResolutionNoProvider, nil
	}
	return "", up
}

func FuzzResolve(f *testing.F) {
	f.Add("exact", "gpt-4o", "", int64(1), "gpt-4o,gpt-4o-mini", int64(2), "claude")
	f.Add("exact", " gpt-4o ", "", int64(1), " gpt-4o", int64(2), "gpt-4o ,gpt-4o")
	f.Add("", "", "gpt-4o", int64(1), "gpt-4o", int64(2), "x")
	f.Add("regex", "gpt", "", int64(1), "gpt-4o,gpt-4o-mini", int64(2), "gpt-4o")
	f.Add("regex", "^gpt-4o$", "", int64(1), "gpt-4o,gpt-4o", int64(1), "openai/gpt-4o")
	f.Add("regex", "gpt-(4o", "", int64(1), "gpt-4o", int64(2), "")
	f.Add("regex", "^$", "", int64(1), ", ,", int64(2), "")
	f.Add("normalize_exact", "  OpenAI/GPT-4o ", "", int64(5), "gpt-4o,x/GPT-4O", int64(-3), "models/gpt-4o")
	f.Add("normalize_exact", "kimi/", "", int64(1), "KIMI/,kimi", int64(2), "a/kimi/")
	f.Add("normalize_exact", "a/b/", "", int64(1), "x/,/,", int64(2), "b")
	f.Add("normalize_exact", " ", " Moonshot/Kimi2", int64(1), "kimi2", int64(2), "Kimi2,kimi2")
	f.Add("glob", "*", "", int64(0), "a", int64(0), "b")

	f.Fuzz(func(t *testing.T, typ, value, publicModel string, id1 int64, models1 string, id2 int64, models2 string) {
		c := routing.WithPublicModel(
			domain.BindingCandidate{RouteGroup: "g", SelectorType: domain.SelectorType(typ), SelectorValue: value},
			publicModel)
		providers := []domain.ProviderRef{
			{ID: id1, Models: splitModels(models1)},
			{ID: id2, Models: splitModels(models2)},
		}

		wantErr, wantUp := originalCandidate(typ, value, publicModel, providers)
		for _, got := range []domain.CandidateResolution{
			routing.Resolve(c, providers),
			routing.NewIndex(providers).Resolve(c),
		} {
			if wantErr != "" {
				if got.Status != "error" || got.Error != wantErr || len(got.Upstreams) != 0 {
					t.Fatalf("original: %s; got %+v", wantErr, got)
				}
				continue
			}
			if got.Status != "ok" || got.Error != "" || len(got.Upstreams) != len(wantUp) {
				t.Fatalf("original: ok %v; got %+v", wantUp, got)
			}
			for id, m := range wantUp {
				if got.Upstreams[id] != m {
					t.Fatalf("original: ok %v; got %+v", wantUp, got)
				}
			}
		}
	})
}

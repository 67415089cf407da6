package snapshot_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/snapshot"
)

// The samples in testdata/contract are what the existing balancer reads
// (../shared/contract): every field of a sample must be in our output with
// the same name and JSON type; extra fields are fine.

func readContractSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "contract", name))
	require.NoError(t, err)
	return b
}

func decodeObject(t *testing.T, what string, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "%s is not a JSON object", what)
	require.NotEmpty(t, m, "%s has no fields", what)
	return m
}

// jsonType names the JSON type of a value decoded into any.
func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64, json.Number:
		return "number"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("unknown(%T)", v)
}

// contractViolations lists every field of sample that ours lacks or holds
// with another JSON type, by path (e.g. "models", "limits.max_keys",
// "models[]"), recursing into objects and into the elements of arrays.
func contractViolations(sample, ours map[string]any) []string {
	var out []string
	var walk func(path string, s, o any)
	walk = func(path string, s, o any) {
		if st, ot := jsonType(s), jsonType(o); st != ot {
			out = append(out, fmt.Sprintf("field %q: the contract sample has %s, our output has %s", path, st, ot))
			return
		}
		switch sv := s.(type) {
		case map[string]any:
			ov := o.(map[string]any)
			keys := make([]string, 0, len(sv))
			for k := range sv {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := k
				if path != "" {
					p = path + "." + k
				}
				v, ok := ov[k]
				if !ok {
					out = append(out, fmt.Sprintf("field %q: in the contract sample, missing in our output", p))
					continue
				}
				walk(p, sv[k], v)
			}
		case []any:
			// Elements: each of ours must have the type of the sample's first.
			if ov := o.([]any); len(sv) > 0 {
				for _, e := range ov {
					walk(path+"[]", sv[0], e)
				}
			}
		}
	}
	walk("", sample, ours)
	return out
}

func assertContract(t *testing.T, what string, sample, ours map[string]any) {
	t.Helper()
	for _, v := range contractViolations(sample, ours) {
		t.Errorf("%s: %s", what, v)
	}
}

// TestContractProviderSnapshot: every config:providers value carries the
// fields of provider_snapshot.json.
func TestContractProviderSnapshot(t *testing.T) {
	t.Parallel()
	sample := decodeObject(t, "provider_snapshot.json", readContractSample(t, "provider_snapshot.json"))
	s := goldenBuild(t, goldenData())
	require.NotEmpty(t, s.Sections[snapshot.KeyProviders])
	for id, v := range s.Sections[snapshot.KeyProviders] {
		assertContract(t, "config:providers "+id, sample, decodeObject(t, "config:providers "+id, []byte(v)))
	}
}

// TestContractModelSnapshot: every meta:models value carries the fields of
// model_snapshot.json.
func TestContractModelSnapshot(t *testing.T) {
	t.Parallel()
	sample := decodeObject(t, "model_snapshot.json", readContractSample(t, "model_snapshot.json"))
	s := goldenBuild(t, goldenData())
	require.NotEmpty(t, s.Sections[snapshot.KeyModels])
	for key, v := range s.Sections[snapshot.KeyModels] {
		ours := decodeObject(t, "meta:models "+key, []byte(v))
		assertContract(t, "meta:models "+key, sample, ours)
		assert.Equal(t, key, ours["name"], "meta:models %s: name is the binding key (namespace.name)", key)
	}
}

// TestContractModelsMeta: the meta:models_meta hash has every field of
// models_meta.json; a Redis hash holds strings only, so the sample must
// decode as map[string]string.
func TestContractModelsMeta(t *testing.T) {
	t.Parallel()
	raw := readContractSample(t, "models_meta.json")
	var sampleHash map[string]string
	require.NoError(t, json.Unmarshal(raw, &sampleHash), "models_meta.json is a hash of strings")
	s := goldenBuild(t, goldenData())
	oursHash := s.ModelsMeta(goldenNow)
	assertContract(t, "meta:models_meta", toAny(sampleHash), toAny(oursHash))
	assert.Len(t, oursHash["checksum"], 64, "meta:models_meta checksum is sha256 hex")
}

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestContractCheckCatchesBrokenOutput makes sure the check above is not
// vacuous: outputs that break the contract are reported, naming the field.
func TestContractCheckCatchesBrokenOutput(t *testing.T) {
	t.Parallel()
	sample := decodeObject(t, "provider_snapshot.json", readContractSample(t, "provider_snapshot.json"))
	good := decodeObject(t, "config:providers 1", []byte(goldenBuild(t, goldenData()).Sections[snapshot.KeyProviders]["1"]))
	require.Empty(t, contractViolations(sample, good), "the unbroken output satisfies the contract")

	broken := func(change func(m map[string]any)) map[string]any {
		m := make(map[string]any, len(good))
		for k, v := range good {
			m[k] = v
		}
		change(m)
		return m
	}
	for _, tc := range []struct {
		name string
		out  map[string]any
		want string
	}{
		{"missing field", broken(func(m map[string]any) { delete(m, "auto_ban") }),
			`field "auto_ban": in the contract sample, missing in our output`},
		{"number instead of string", broken(func(m map[string]any) { m["name"] = 42.0 }),
			`field "name": the contract sample has string, our output has number`},
		{"string instead of number", broken(func(m map[string]any) { m["id"] = "1" }),
			`field "id": the contract sample has number, our output has string`},
		{"null instead of array", broken(func(m map[string]any) { m["models"] = nil }),
			`field "models": the contract sample has array, our output has null`},
		{"wrong element type", broken(func(m map[string]any) { m["models"] = []any{1.0} }),
			`field "models[]": the contract sample has string, our output has number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, []string{tc.want}, contractViolations(sample, tc.out))
		})
	}

	t.Run("nested object", func(t *testing.T) {
		s := map[string]any{"limits": map[string]any{"max_keys": 1.0}}
		assert.Equal(t, []string{`field "limits.max_keys": in the contract sample, missing in our output`},
			contractViolations(s, map[string]any{"limits": map[string]any{}}))
		assert.Empty(t, contractViolations(s, map[string]any{"limits": map[string]any{"max_keys": 0.0, "extra": true}}),
			"extra fields are fine")
	})
}

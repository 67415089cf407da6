package httpapi

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, body, field, msg string
	}{
		{"accepts_a_plain_object", `{"a":"x","b":[1,{"c":null}]}`, "", ""},
		{"accepts_trailing_whitespace", "{\"a\":1}\n \t", "", ""},
		{"leaves_syntax_errors_to_the_validator", `{"a":`, "", ""},
		{"accepts_offsets_within_15_59", `{"t":"2030-01-01T00:00:00-15:59"}`, "", ""},
		{"accepts_same_key_in_sibling_objects", `[{"a":1},{"a":2}]`, "", ""},
		{"rejects_a_second_object", `{"a":1} {"a":2}`, "body", "unexpected data after the JSON value"},
		{"rejects_trailing_garbage_after_an_array", `[1,2] 3`, "body", "unexpected data after the JSON value"},
		{"rejects_a_top_level_duplicate", `{"a":1,"a":2}`, "a", "duplicate key"},
		{"names_a_nested_duplicate", `{"a":{"b":1,"b":2}}`, "a.b", "duplicate key"},
		{"names_a_nul_inside_an_array_of_objects", `{"candidates":[{"x":"ok"},{"route_group":"g\u0000"}]}`, "candidates.1.route_group", "must not contain NUL characters"},
		{"names_a_nul_in_an_array_item", `{"models":["a","b\u0000"]}`, "models.1", "must not contain NUL characters"},
		{"rejects_an_offset_of_16_hours", `{"expires_at":"2030-01-01T00:00:00+16:00"}`, "expires_at", "time-zone offset must be within ±15:59"},
		{"rejects_a_nul_in_a_key", `{"a\u0000":1}`, "body", "key must not contain NUL characters"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := checkJSON([]byte(tc.body))
			if tc.field == "" {
				assert.Nil(t, p)
				return
			}
			require.NotNil(t, p)
			require.Len(t, p.Fields, 1)
			assert.Equal(t, tc.field, p.Fields[0].Field)
			assert.Equal(t, tc.msg, p.Fields[0].Message)
		})
	}
}

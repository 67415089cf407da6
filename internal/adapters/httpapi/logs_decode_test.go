package httpapi

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/core/logs"
)

func TestDecodeLogBatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		max      int
		records  int
		rejected map[int]string // index → field
		unknown  int
		err      error // nil, errTooLarge or errBody
	}{
		{name: "empty_array", body: `[]`, max: 10},
		{name: "one_valid_record", body: `[{"request_id":"a","latency_ms":5,"stream":true,"cost_usd":0.5,"key_id":null}]`, max: 10, records: 1},
		{name: "a_wrong_type_refuses_only_its_record", max: 10, records: 3,
			body:     `[{"request_id":"a","status_code":"200","model":"m"},{"request_id":"b"},{"request_id":"c","stream":1}]`,
			rejected: map[int]string{0: "status_code", 2: "stream"}},
		{name: "unknown_members_are_skipped_and_counted", max: 10, records: 1, unknown: 3,
			body: `[{"request_id":"a","extra":{"deep":[1,{"x":"y"}]},"more":null,"Model":"case matters"}]`},
		{name: "not_an_object_is_refused_by_index", body: `[1,{"request_id":"b"},[{}],"s"]`, max: 10, records: 4,
			rejected: map[int]string{0: "record", 2: "record", 3: "record"}},
		{name: "a_repeated_member_is_refused", body: `[{"request_id":"a","model":"x","model":"y"}]`, max: 10, records: 1,
			rejected: map[int]string{0: "model"}},
		{name: "integer_out_of_int64_range", body: `[{"request_id":"a","prompt_tokens":92233720368547758070}]`, max: 10, records: 1,
			rejected: map[int]string{0: "prompt_tokens"}},
		{name: "fraction_for_an_integer", body: `[{"request_id":"a","latency_ms":1.5}]`, max: 10, records: 1,
			rejected: map[int]string{0: "latency_ms"}},
		{name: "bad_date", body: `[{"request_id":"a","created_at":"yesterday"}]`, max: 10, records: 1,
			rejected: map[int]string{0: "created_at"}},
		{name: "escaped_names_and_strings", body: `[{"request\u005fid":"a\"b","model":"\u00e9"}]`, max: 10, records: 1},
		{name: "more_than_max_batch", body: `[{},{},{}]`, max: 2, err: logs.ErrBatchTooLarge},
		{name: "not_an_array", body: `{"request_id":"a"}`, max: 10, err: errNotBatch},
		{name: "truncated", body: `[{"request_id":"a"`, max: 10, err: errNotBatch},
		{name: "data_after_the_array", body: `[] []`, max: 10, err: errNotBatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := decodeLogBatch(strings.NewReader(tc.body), tc.max)
			switch {
			case errors.Is(tc.err, logs.ErrBatchTooLarge):
				require.ErrorIs(t, err, logs.ErrBatchTooLarge)
				return
			case tc.err != nil:
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Len(t, b.Records, tc.records)
			got := map[int]string{}
			for _, r := range b.Rejected {
				require.Len(t, r.Fields, 1)
				got[r.Index] = r.Fields[0].Field
			}
			if tc.rejected == nil {
				tc.rejected = map[int]string{}
			}
			assert.Equal(t, tc.rejected, got)
			assert.Equal(t, tc.unknown, b.UnknownFields)
		})
	}

	t.Run("values_land_in_the_domain_record", func(t *testing.T) {
		t.Parallel()
		b, err := decodeLogBatch(strings.NewReader(`[{"request\u005fid":"a\"b","created_at":"2026-05-01T10:15:30.5+02:00","key_id":7,`+
			`"master_id":3,"provider_id":9,"model":"\u00e9","status_code":502,"latency_ms":2147483648,"prompt_tokens":9223372036854775807,`+
			`"cost_usd":0.25,"stream":true,"error":"x"}]`), 10)
		require.NoError(t, err)
		require.Len(t, b.Records, 1)
		r := b.Records[0]
		assert.Equal(t, `a"b`, r.RequestID)
		assert.Equal(t, "é", r.Model)
		assert.Equal(t, "2026-05-01T08:15:30.5Z", r.CreatedAt.UTC().Format("2006-01-02T15:04:05.999Z07:00"))
		assert.Equal(t, int64(7), *r.KeyID)
		assert.Equal(t, int64(3), *r.MasterID)
		assert.Equal(t, int64(9), *r.ProviderID)
		assert.Equal(t, 502, r.StatusCode)
		assert.Equal(t, 2147483648, r.LatencyMS, "decoded as is; the int32 range is the validator's")
		assert.Equal(t, int64(9223372036854775807), r.PromptTokens)
		assert.Equal(t, 0.25, *r.CostUSD)
		assert.True(t, r.Stream)
		assert.Equal(t, "x", r.Error)
	})
}

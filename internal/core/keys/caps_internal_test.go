package keys

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestLimitNarrower(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		a, b   int
		expect bool
	}{
		{"anything_is_within_no_limit", 5000, 0, true},
		{"no_limit_is_not_within_a_limit", 0, 50, false},
		{"equal_is_within", 50, 50, true},
		{"lower_is_within", 10, 50, true},
		{"higher_is_not", 51, 50, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.expect, limitNarrower(tc.a, tc.b))
		})
	}
}

func TestEffectiveLimit(t *testing.T) {
	t.Parallel()
	assert.Equal(t, 7, effective(7, 100, 200), "the key's own")
	assert.Equal(t, 100, effective(0, 100, 200), "the master's default")
	assert.Equal(t, 200, effective(0, 0, 200), "the master's cap")
	assert.Equal(t, 0, effective(0, 0, 0), "no limit at all")
}

func TestCIDRsWithin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name         string
		inner, outer []string
		expect       bool
	}{
		{"subnet_inside", []string{"10.1.0.0/16"}, []string{"10.0.0.0/8"}, true},
		{"same_prefix", []string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}, true},
		{"single_address_inside", []string{"10.2.3.4"}, []string{"10.0.0.0/8"}, true},
		{"wider_prefix_same_start", []string{"10.0.0.0/7"}, []string{"10.0.0.0/8"}, false},
		{"everything", []string{"0.0.0.0/0"}, []string{"10.0.0.0/8"}, false},
		{"empty_means_any_address", nil, []string{"10.0.0.0/8"}, false},
		{"one_of_several_outside", []string{"10.1.0.0/16", "192.168.0.0/24"}, []string{"10.0.0.0/8"}, false},
		{"each_inside_some_outer", []string{"10.1.0.0/16", "2001:db8:1::/48"}, []string{"10.0.0.0/8", "2001:db8::/32"}, true},
		{"ipv6_outside", []string{"2001:db9::/48"}, []string{"2001:db8::/32"}, false},
		{"garbage_is_not_within", []string{"nope"}, []string{"10.0.0.0/8"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tc.expect, cidrsWithin(tc.inner, tc.outer))
		})
	}
}

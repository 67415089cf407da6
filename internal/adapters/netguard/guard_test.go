package netguard_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ez-api/ez-api/internal/adapters/netguard"
	"github.com/ez-api/ez-api/internal/core/domain"
)

// fakeDNS answers from a fixed table and counts lookups; anything else fails.
type fakeDNS struct {
	calls atomic.Int32
}

func (f *fakeDNS) lookup(_ context.Context, host string) ([]net.IPAddr, error) {
	f.calls.Add(1)
	table := map[string][]string{
		"good.example":      {"93.184.216.34"},
		"good-v6.example":   {"2606:2800:220:1:248:1893:25c8:1946"},
		"evil.example":      {"169.254.169.254"},
		"mixed.example":     {"93.184.216.34", "10.0.0.7"},
		"mapped.example":    {"::ffff:127.0.0.1"},
		"cgnat.example":     {"100.64.1.2"},
		"nat64.example":     {"64:ff9b::a9fe:a9fe"},
		"api.openai.com":    {"104.18.6.192"},
		"ollama.internal":   {"192.168.1.20"},
		"ula.example":       {"fd00::1"},
		"FQDN.example.":     {"93.184.216.34"},
		"empty.example":     {},
		"broadcast.example": {"255.255.255.255"},
	}
	ips, ok := table[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	out := make([]net.IPAddr, 0, len(ips))
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

func TestCheckUpstreamURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		url           string
		okPublic      bool   // accepted with allowPrivate=false
		okPrivate     bool   // accepted with allowPrivate=true
		wantPublicMsg string // substring of the rejection with allowPrivate=false
	}{
		// Public destinations.
		{"accepts_public_hostname", "https://api.openai.com/v1", true, true, ""},
		{"accepts_resolved_public_host_with_port_path_query", "https://good.example:8443/v1?x=1", true, true, ""},
		{"accepts_public_ipv6_host", "https://good-v6.example/", true, true, ""},
		{"accepts_fqdn_with_trailing_dot", "https://FQDN.example./v1", true, true, ""},
		{"accepts_public_ipv4_literal", "http://8.8.8.8", true, true, ""},
		{"accepts_public_ipv6_literal", "http://[2001:4860:4860::8888]:443/", true, true, ""},
		{"accepts_uppercase_scheme", "HTTPS://good.example", true, true, ""},

		// Private destinations: allowed only with allowPrivate.
		{"rejects_loopback_ipv4", "http://127.0.0.1:8080", false, true, "loopback"},
		{"rejects_loopback_ipv4_anywhere_in_8", "http://127.9.9.9", false, true, "loopback"},
		{"rejects_loopback_ipv6", "http://[::1]/", false, true, "loopback"},
		{"rejects_metadata_endpoint", "http://169.254.169.254/latest/meta-data", false, true, "link-local"},
		{"rejects_ipv6_link_local_with_zone", "http://[fe80::1%25eth0]/", false, true, "link-local"},
		{"rejects_private_10", "http://10.0.0.5", false, true, "private"},
		{"rejects_private_172", "http://172.16.3.4", false, true, "private"},
		{"rejects_private_192", "http://192.168.0.1", false, true, "private"},
		{"rejects_unique_local_ipv6", "http://[fd12::1]", false, true, "private"},
		{"rejects_cgnat", "http://100.64.0.1", false, true, "special-purpose"},
		{"rejects_unspecified_ipv4", "http://0.0.0.0:8080", false, true, "unspecified"},
		{"rejects_unspecified_ipv6", "http://[::]/", false, true, "unspecified"},
		{"rejects_this_network", "http://0.1.2.3", false, true, "special-purpose"},
		{"rejects_multicast", "http://224.0.0.1", false, true, "multicast"},
		{"rejects_ipv6_multicast", "http://[ff02::1]", false, true, "multicast"},
		{"rejects_broadcast", "http://255.255.255.255", false, true, "special-purpose"},
		{"rejects_ipv4_mapped_loopback", "http://[::ffff:127.0.0.1]", false, true, "loopback"},
		{"rejects_ipv4_mapped_metadata", "http://[::ffff:a9fe:a9fe]", false, true, "link-local"},
		{"rejects_ipv4_compatible", "http://[::7f00:1]", false, true, "special-purpose"},
		{"rejects_nat64_to_loopback", "http://[64:ff9b::7f00:1]", false, true, "special-purpose"},
		{"rejects_6to4_to_private", "http://[2002:a00:1::1]", false, true, "special-purpose"},
		// Issue 13 item 12: special-purpose ranges a hand list missed.
		{"rejects_nat64_local_use_to_metadata", "http://[64:ff9b:1::a9fe:a9fe]", false, true, "special-purpose"},
		{"rejects_teredo", "http://[2001::1]", false, true, "special-purpose"},
		{"rejects_teredo_wrapping_metadata", "http://[2001:0:4136:e378:8000:63bf:5601:5601]", false, true, "special-purpose"},
		{"rejects_site_local_ipv6", "http://[fec0::1]", false, true, "special-purpose"},
		{"rejects_benchmarking", "http://198.18.0.1", false, true, "special-purpose"},
		{"rejects_benchmarking_upper_half", "http://198.19.255.254", false, true, "special-purpose"},
		{"rejects_reserved_240", "http://240.0.0.1", false, true, "special-purpose"},
		{"rejects_documentation_v4", "http://203.0.113.7", false, true, "special-purpose"},
		{"rejects_documentation_v6", "http://[2001:db8::1]", false, true, "special-purpose"},
		{"rejects_ietf_protocol_assignments", "http://192.0.0.8", false, true, "special-purpose"},
		{"rejects_hex_ip", "http://0x7f000001", false, true, "numeric"},
		{"rejects_decimal_ip", "http://2130706433", false, true, "numeric"},
		{"rejects_octal_ip", "http://0177.0.0.1", false, true, "numeric"},
		{"rejects_short_dotted_ip", "http://127.1/", false, true, "numeric"},
		{"rejects_localhost", "http://localhost:11434", false, true, "localhost"},
		{"rejects_localhost_any_case_trailing_dot", "http://LocalHost.:11434", false, true, "localhost"},
		{"rejects_localhost_subdomain", "http://api.localhost", false, true, "localhost"},
		{"rejects_host_resolving_to_metadata", "http://evil.example/", false, true, "resolves to a link-local (cloud metadata) address (169.254.169.254)"},
		{"rejects_host_with_any_private_address", "http://mixed.example/", false, true, "10.0.0.7"},
		{"rejects_host_resolving_to_mapped_loopback", "http://mapped.example/", false, true, "(127.0.0.1)"},
		{"rejects_host_resolving_to_cgnat", "http://cgnat.example/", false, true, "special-purpose"},
		{"rejects_host_resolving_to_nat64_metadata", "http://nat64.example/", false, true, "special-purpose"},
		{"rejects_host_resolving_to_private", "http://ollama.internal:11434", false, true, "private"},
		{"rejects_host_resolving_to_ula", "http://ula.example", false, true, "private"},
		{"rejects_host_resolving_to_broadcast", "http://broadcast.example", false, true, "special-purpose"},
		{"rejects_unresolvable_host", "http://nxdomain.example", false, true, "host does not resolve"},
		{"rejects_host_with_no_addresses", "http://empty.example", false, true, "host does not resolve"},

		// Always rejected.
		{"rejects_ftp", "ftp://x", false, false, "scheme must be http or https"},
		{"rejects_file", "file:///etc/passwd", false, false, "scheme must be http or https"},
		{"rejects_javascript", "javascript:alert(1)", false, false, "scheme must be http or https"},
		{"rejects_gopher", "gopher://good.example", false, false, "scheme must be http or https"},
		{"rejects_empty", "", false, false, "is required"},
		{"rejects_not_a_url", "not a url", false, false, "scheme must be http or https"},
		{"rejects_unparseable", "http://[::1", false, false, "is not a valid URL"},
		{"rejects_credentials", "http://user:pw@host", false, false, "credentials"},
		{"rejects_username_only", "https://user@good.example", false, false, "credentials"},
		{"rejects_fragment", "https://good.example/v1#frag", false, false, "fragment"},
		{"rejects_empty_fragment", "https://good.example/v1#", false, false, "fragment"},
		{"rejects_missing_host", "http:///v1", false, false, "host is required"},
		{"rejects_port_only", "http://:8080/", false, false, "host is required"},
		{"rejects_opaque", "http:good.example", false, false, "host is required"},
		{"rejects_port_zero", "http://good.example:0", false, false, "port"},
		{"rejects_port_too_large", "http://good.example:65536", false, false, "port"},
	}
	for _, tt := range tests {
		for _, allowPrivate := range []bool{false, true} {
			name := tt.name + map[bool]string{false: "/public_only", true: "/private_allowed"}[allowPrivate]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				dns := &fakeDNS{}
				g := netguard.New(allowPrivate, nil, 0, netguard.WithLookup(dns.lookup))
				err := g.CheckUpstreamURL(t.Context(), tt.url)

				wantOK := tt.okPublic
				if allowPrivate {
					wantOK = tt.okPrivate
					assert.Zero(t, dns.calls.Load(), "allowPrivate must not resolve")
				}
				if wantOK {
					assert.NoError(t, err)
					return
				}
				require.Error(t, err)
				assert.ErrorIs(t, err, domain.ErrInvalid)
				var ve *domain.ValidationError
				require.ErrorAs(t, err, &ve)
				require.Len(t, ve.Fields, 1)
				assert.Equal(t, "base_url", ve.Fields[0].Field)
				if !allowPrivate {
					assert.Contains(t, err.Error(), tt.wantPublicMsg)
				}
				assert.NotContains(t, err.Error(), "pw", "credentials echoed")
			})
		}
	}
}

func TestLiteralsAndLocalhostAreNotResolved(t *testing.T) {
	t.Parallel()
	dns := &fakeDNS{}
	g := netguard.New(false, nil, 0, netguard.WithLookup(dns.lookup))
	for _, u := range []string{"http://8.8.8.8", "http://[::1]", "http://localhost", "http://2130706433", "http://a.localhost"} {
		_ = g.CheckUpstreamURL(t.Context(), u)
	}
	assert.Zero(t, dns.calls.Load())
}

func TestDefaultResolverWithLiteralsNeedsNoNetwork(t *testing.T) {
	t.Parallel()
	g := netguard.New(false, nil, 0)
	assert.NoError(t, g.CheckUpstreamURL(t.Context(), "https://1.1.1.1/v1"))
	assert.ErrorIs(t, g.CheckUpstreamURL(t.Context(), "http://127.0.0.1:8080"), domain.ErrInvalid)
	assert.ErrorIs(t, g.CheckUpstreamURL(t.Context(), "http://localhost"), domain.ErrInvalid)
}

func TestLookupIsBoundedByTimeout(t *testing.T) {
	t.Parallel()
	var hadDeadline atomic.Bool
	hang := func(ctx context.Context, _ string) ([]net.IPAddr, error) {
		_, ok := ctx.Deadline()
		hadDeadline.Store(ok)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	g := netguard.New(false, nil, 20*time.Millisecond, netguard.WithLookup(hang))

	start := time.Now()
	err := g.CheckUpstreamURL(context.Background(), "https://slow.example")
	require.Error(t, err)
	assert.ErrorIs(t, err, domain.ErrInvalid)
	assert.Contains(t, err.Error(), "host does not resolve")
	assert.True(t, hadDeadline.Load())
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestLookupErrorIsNotLeaked(t *testing.T) {
	t.Parallel()
	failing := func(context.Context, string) ([]net.IPAddr, error) {
		return nil, errors.New("dial udp 10.0.0.53:53: internal resolver detail")
	}
	g := netguard.New(false, nil, time.Second, netguard.WithLookup(failing))
	err := g.CheckUpstreamURL(t.Context(), "https://good.example")
	require.Error(t, err)
	assert.Equal(t, "base_url: host does not resolve", err.Error())
}

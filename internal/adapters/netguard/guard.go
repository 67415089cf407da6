// Package netguard vets upstream base URLs so ezapi cannot be pointed at
// loopback, cloud-metadata, or private-network destinations (SSRF).
//
// The check runs when a URL is saved. DNS can change afterwards (rebinding),
// so this guard is a first line of defence, not a substitute for checking the
// address the HTTP client actually dials.
package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"code.dny.dev/ssrf"

	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/ports"
)

const (
	field          = "base_url"
	defaultTimeout = 2 * time.Second
)

// LookupFunc resolves a host name to its addresses, like net.Resolver.LookupIPAddr.
type LookupFunc func(ctx context.Context, host string) ([]net.IPAddr, error)

// Guard implements ports.AddressGuard.
type Guard struct {
	allowPrivate bool
	lookup       LookupFunc
	timeout      time.Duration
	// iana checks addresses only (any port, any network: the URL rules
	// above handle those).
	iana *ssrf.Guardian
}

var _ ports.AddressGuard = (*Guard)(nil)

// Option customises a Guard.
type Option func(*Guard)

// WithLookup replaces DNS resolution, so tests never touch the network.
func WithLookup(fn LookupFunc) Option { return func(g *Guard) { g.lookup = fn } }

// New returns a Guard; a nil resolver means net.DefaultResolver and a
// non-positive timeout means 2s per resolution.
func New(allowPrivate bool, resolver *net.Resolver, timeout time.Duration, opts ...Option) *Guard {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	g := &Guard{allowPrivate: allowPrivate, lookup: resolver.LookupIPAddr, timeout: timeout,
		iana: ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())}
	for _, o := range opts {
		o(g)
	}
	return g
}

// CheckUpstreamURL accepts only absolute http(s) URLs without credentials or
// fragment and, unless private networks are allowed, whose host is not and
// does not resolve to a loopback, link-local, private or otherwise internal
// address. Every rejection is a *domain.ValidationError on "base_url".
func (g *Guard) CheckUpstreamURL(ctx context.Context, rawURL string) error {
	if rawURL == "" {
		return reject("is required")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error echoes the input, which may hold credentials: don't wrap it.
		return reject("is not a valid URL")
	}
	if !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https") {
		return reject("scheme must be http or https")
	}
	if u.Opaque != "" || u.Host == "" {
		return reject("host is required")
	}
	if u.User != nil {
		return reject("must not contain credentials")
	}
	if u.Fragment != "" || strings.Contains(rawURL, "#") {
		return reject("must not contain a fragment")
	}
	host := u.Hostname()
	if host == "" {
		return reject("host is required")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return reject("port must be between 1 and 65535")
		}
	}
	if g.allowPrivate {
		return nil
	}
	return g.checkHost(ctx, host)
}

func (g *Guard) checkHost(ctx context.Context, host string) error {
	if addr, err := netip.ParseAddr(host); err == nil {
		if kind := g.forbidden(addr); kind != "" {
			return reject("host is " + kind + " address; private destinations are not allowed")
		}
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return reject("host is localhost; private destinations are not allowed")
	}
	if endsInNumber(name) {
		// Forms like 2130706433, 0x7f000001 or 0177.1 are IPv4 addresses to
		// some clients (and to browsers) but not to netip; refuse to guess.
		return reject("host looks like a non-standard numeric IP address; use dotted-decimal IPv4 or bracketed IPv6")
	}

	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	addrs, err := g.lookup(ctx, host)
	if err != nil || len(addrs) == 0 {
		return reject("host does not resolve")
	}
	for _, a := range addrs {
		addr, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return reject("host does not resolve")
		}
		if kind := g.forbidden(addr); kind != "" {
			return reject(fmt.Sprintf("host resolves to %s address (%s); private destinations are not allowed", kind, addr.Unmap()))
		}
	}
	return nil
}

// endsInNumber applies the WHATWG URL rule: a host whose last label is all
// digits or 0x-hex is an IPv4 address, whatever netip thinks of it.
func endsInNumber(name string) bool {
	labels := strings.Split(name, ".")
	last := labels[len(labels)-1]
	if last == "" {
		return false
	}
	digits := "0123456789"
	if rest, ok := strings.CutPrefix(last, "0x"); ok {
		last, digits = rest, "0123456789abcdef"
	}
	for _, c := range last {
		if !strings.ContainsRune(digits, c) {
			return false
		}
	}
	return true
}

// forbidden names the kind of internal address addr is ("a loopback", …) or
// returns "" when it may be dialled. The decision is code.dny.dev/ssrf's,
// generated from the IANA IPv4 and IPv6 Special-Purpose Address Registries
// (and, for IPv6, everything outside global unicast 2000::/3: NAT64
// 64:ff9b::/96 and 64:ff9b:1::/48, site-local fec0::/10, ULA, …); the kinds
// below only word the refusal.
func (g *Guard) forbidden(addr netip.Addr) string {
	addr = addr.Unmap().WithZone("")
	if g.iana.SafeAddr(addr) == nil {
		return ""
	}
	switch {
	case addr.IsUnspecified():
		return "an unspecified"
	case addr.IsLoopback():
		return "a loopback"
	case addr.IsLinkLocalUnicast():
		return "a link-local (cloud metadata)"
	case addr.IsMulticast():
		return "a multicast"
	case addr.IsPrivate():
		return "a private"
	default:
		return "a special-purpose (IANA registry)"
	}
}

func reject(reason string) error { return domain.NewValidationError(field, reason) }

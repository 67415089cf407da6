package httpapi

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ez-api/ez-api/internal/adapters/ratelimit"
	"github.com/ez-api/ez-api/internal/core/domain"
)

// ipExtractor takes the client IP from X-Forwarded-For only when the
// direct peer is one of the trusted proxies; otherwise the socket address.
func ipExtractor(trusted []string) (echo.IPExtractor, error) {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect(), nil
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, c := range trusted {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			return nil, err
		}
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...), nil
}

// limitIP is the rate-limit identity of a client address: IPv6 clients are
// limited per /64, since one host usually holds the whole /64.
func limitIP(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// endpointKey names the endpoint a request is limited under: its method and
// route template. Paths that matched no route are normalised (unescaped,
// cleaned, trailing slash dropped) and looked up again, so /keys/, //keys
// and %2Fkeys share /keys's bucket; the rest share one "unmatched" bucket.
func endpointKey(e *echo.Echo, c echo.Context) string {
	method := c.Request().Method
	if p := c.Path(); p != "" && p != "/*" {
		return method + " " + p
	}
	raw := c.Request().URL.EscapedPath()
	if u, err := url.PathUnescape(raw); err == nil {
		raw = u
	}
	norm := path.Clean("/" + raw)
	if norm != "/" {
		norm = strings.TrimSuffix(norm, "/")
	}
	tmp := e.NewContext(c.Request(), nil)
	e.Router().Find(method, norm, tmp)
	if p := tmp.Path(); p != "" && p != "/*" {
		return method + " " + p
	}
	return method + " unmatched"
}

// rateLimitMiddleware applies the limiter after authentication, so rules by
// principal know who is calling. A refused request gets a 429 problem with
// Retry-After and the RateLimit-* headers; allowed ones carry the headers too.
func rateLimitMiddleware(e *echo.Echo, l *ratelimit.Limiter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if l == nil || isOutsideContract(c) {
				return next(c)
			}
			s := ratelimit.Subject{IP: limitIP(c.RealIP()), Endpoint: endpointKey(e, c), Probe: probePaths[c.Path()]}
			if p, ok := domain.PrincipalFrom(c.Request().Context()); ok {
				s.Principal = string(p.Kind) + ":" + strconv.FormatInt(p.ID, 10)
				s.Role = string(p.Role)
			}
			d, rule := l.Check(c.Request().Context(), s)
			if d.Limit > 0 {
				h := c.Response().Header()
				h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
				h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
				h.Set("RateLimit-Reset", strconv.Itoa(seconds(d.Reset)))
			}
			if !d.Allowed {
				return &ProblemError{Status: http.StatusTooManyRequests,
					Detail: "Rate limit " + rule + " exceeded; retry later.",
					Header: http.Header{"Retry-After": {strconv.Itoa(seconds(d.RetryAfter))}}}
			}
			return next(c)
		}
	}
}

func seconds(d time.Duration) int { return max(int(math.Ceil(d.Seconds())), 1) }

// securityHeaders hardens the documentation pages.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
		return next(c)
	}
}

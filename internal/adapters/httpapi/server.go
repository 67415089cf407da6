// Package httpapi is the HTTP adapter: the Echo server generated from
// openapi.yaml, its middleware, the handlers that convert DTOs to domain
// types and call the core use-cases, and the single error→problem mapping.
package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	oapimw "github.com/oapi-codegen/echo-middleware"

	ezapi "github.com/ez-api/ez-api"
	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/adapters/observability"
	"github.com/ez-api/ez-api/internal/adapters/ratelimit"
	"github.com/ez-api/ez-api/internal/core/audit"
	"github.com/ez-api/ez-api/internal/core/auth"
	"github.com/ez-api/ez-api/internal/core/bindings"
	"github.com/ez-api/ez-api/internal/core/features"
	"github.com/ez-api/ez-api/internal/core/health"
	"github.com/ez-api/ez-api/internal/core/imports"
	"github.com/ez-api/ez-api/internal/core/keys"
	"github.com/ez-api/ez-api/internal/core/logs"
	"github.com/ez-api/ez-api/internal/core/masters"
	"github.com/ez-api/ez-api/internal/core/models"
	"github.com/ez-api/ez-api/internal/core/operators"
	"github.com/ez-api/ez-api/internal/core/providers"
	"github.com/ez-api/ez-api/internal/core/servicetokens"
	"github.com/ez-api/ez-api/internal/core/snapshot"
	"github.com/ez-api/ez-api/internal/ports"
)

// Options configures the HTTP adapter.
type Options struct {
	// TrustedProxies are the CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string
	// Limiter applies the rate-limit rules (nil: none).
	Limiter *ratelimit.Limiter
	// Metrics instruments requests and serves /metrics (nil: none).
	Metrics *observability.Metrics
	// MetricsBearer, when set, protects /metrics.
	MetricsBearer  string
	BodyLimitBytes int64
	// LogBodyLimitBytes is the body limit of POST /logs (batches are big).
	LogBodyLimitBytes int64
	// ImportBodyLimitBytes is the body limit of POST /admin/import.
	ImportBodyLimitBytes int64
	CORSAllowOrigins     []string
	CORSAllowCredentials bool
	DocsEnabled          bool
	// UIEnabled serves the admin console at /ui/.
	UIEnabled bool
}

// API implements the generated StrictServerInterface by calling the core
// use-cases.
type API struct {
	health        *health.Service
	login         *auth.LoginService
	operators     *operators.Service
	serviceTokens *servicetokens.Service
	providers     *providers.Service
	models        *models.Service
	bindings      *bindings.Service
	masters       *masters.Service
	keys          *keys.Service
	features      *features.Service
	audit         *audit.Service
	sync          *snapshot.SyncService
	logs          *logs.Service
	imports       *imports.Service
	clock         ports.Clock
	// logger is set by NewEcho: handlers log what they hide from callers.
	logger *slog.Logger
}

var _ gen.StrictServerInterface = (*API)(nil)

// Services are the core use-cases the handlers call.
type Services struct {
	Health        *health.Service
	Login         *auth.LoginService
	Operators     *operators.Service
	ServiceTokens *servicetokens.Service
	Providers     *providers.Service
	Models        *models.Service
	Bindings      *bindings.Service
	Masters       *masters.Service
	Keys          *keys.Service
	Features      *features.Service
	Audit         *audit.Service
	Sync          *snapshot.SyncService
	Logs          *logs.Service
	Imports       *imports.Service
}

// NewAPI builds the handler set.
func NewAPI(s Services, clock ports.Clock) *API {
	return &API{health: s.Health, login: s.Login, operators: s.Operators, serviceTokens: s.ServiceTokens,
		providers: s.Providers, models: s.Models, bindings: s.Bindings, masters: s.Masters, keys: s.Keys,
		features: s.Features, audit: s.Audit, sync: s.Sync, logs: s.Logs, imports: s.Imports, clock: clock}
}

// NewEcho builds the Echo server with the middleware of DESIGN.md §9, in
// order: recovery → request id → tracing → access log → CORS → metrics →
// auth → rate limit → body limit → validation → handler. (The span itself
// is started by otelhttp around the whole server; tracing names it.)
func NewEcho(opts Options, api *API, authn Authenticator, logger *slog.Logger) (*echo.Echo, error) {
	spec, err := gen.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	spec.Servers = nil // validate paths only, whatever host the server is reached by
	perms, err := Permissions(spec)
	if err != nil {
		return nil, fmt.Errorf("permission table: %w", err)
	}

	api.logger = logger
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = ErrorHandler(logger)
	if e.IPExtractor, err = ipExtractor(opts.TrustedProxies); err != nil {
		return nil, fmt.Errorf("server.trusted_proxies: %w", err)
	}

	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		StackSize: 8 << 10,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			logger.ErrorContext(c.Request().Context(), "panic in handler",
				"request_id", RequestID(c), "error", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(requestIDMiddleware())
	e.Use(apiHeadersMiddleware())
	e.Use(tracingMiddleware())
	e.Use(accessLogMiddleware(logger))
	// No configured origin means no CORS at all (Echo would turn an empty
	// list into "*"); "*" with credentials would let any site act as the
	// logged-in operator.
	if len(opts.CORSAllowOrigins) > 0 {
		if opts.CORSAllowCredentials && slices.Contains(opts.CORSAllowOrigins, "*") {
			return nil, errors.New("server.cors: allow_credentials cannot be combined with the origin \"*\"")
		}
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:     opts.CORSAllowOrigins,
			AllowCredentials: opts.CORSAllowCredentials,
			AllowMethods:     []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowHeaders:     []string{echo.HeaderAuthorization, echo.HeaderContentType, "X-API-Key", echo.HeaderXRequestID},
			ExposeHeaders:    []string{echo.HeaderXRequestID, "Retry-After"},
			MaxAge:           600,
		}))
	}
	if opts.Metrics != nil {
		e.Use(opts.Metrics.Middleware())
	}
	e.Use(authMiddleware(perms, authn))
	e.Use(rateLimitMiddleware(e, opts.Limiter))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Skipper: func(c echo.Context) bool { return isLogIngest(c) || isImport(c) }, Limit: fmt.Sprintf("%dB", opts.BodyLimitBytes),
	}))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Skipper: func(c echo.Context) bool { return !isLogIngest(c) }, Limit: fmt.Sprintf("%dB", max(opts.LogBodyLimitBytes, opts.BodyLimitBytes)),
	}))
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{
		Skipper: func(c echo.Context) bool { return !isImport(c) }, Limit: fmt.Sprintf("%dB", max(opts.ImportBodyLimitBytes, opts.BodyLimitBytes)),
	}))
	// POST /logs decodes record by record (the log pipeline's own checks);
	// POST /admin/import is parsed strictly by imports.Parse.
	e.Use(bodyMiddleware(func(c echo.Context) bool { return !isLogIngest(c) && !isImport(c) }))
	e.Use(importBodyMiddleware())
	noParams := unvalidatedOperations(spec)
	validation := &oapimw.Options{
		// POST /logs validates record by record (one bad record must not
		// refuse the batch), so the whole-body check is skipped there; POST
		// /admin/import bodies (100,000 keys and more) are checked by
		// imports.Parse, strictly and far faster than a schema walk.
		Skipper: func(c echo.Context) bool {
			return skipsValidation(noParams, c) || isOutsideContract(c) || isLogIngest(c) || isImport(c)
		},
		ErrorHandler: validationProblem,
		MultiErrorHandler: func(me openapi3.MultiError) *echo.HTTPError {
			return &echo.HTTPError{Code: http.StatusBadRequest, Message: "request validation failed", Internal: me}
		},
		Options: openapi3filter.Options{
			MultiError:         true,
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			// RejectWhenRequestBodyNotSpecified stays off: in kin-openapi
			// v0.142.0 it also rejects bodies the operation does declare.
		},
	}
	// Authentication is this server's own middleware (the validator's is a
	// no-op), so the validator's copy of the spec carries no security
	// requirements to walk on every request.
	spec.Security = nil
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			op.Security = &openapi3.SecurityRequirements{}
		}
	}
	e.Use(requestValidator(spec, validation, oapimw.OapiRequestValidatorWithOptions(spec, validation)))

	gen.RegisterHandlers(e, gen.NewStrictHandler(api, nil))
	// POST /logs decodes its body in one streaming pass instead of the
	// generated handler's []json.RawMessage (same contract, same answers).
	e.POST("/logs", api.ingestLogsStream)
	if opts.Metrics != nil {
		e.GET("/metrics", opts.Metrics.Handler(opts.MetricsBearer))
	}
	if opts.DocsEnabled {
		registerDocs(e)
	}
	if opts.UIEnabled {
		registerConsole(e)
	}
	return e, nil
}

// nonContractPaths are served by the server but are not API operations.
var nonContractPaths = []string{"/docs", "/ui", "/openapi.yaml", "/openapi.json", "/metrics"}

func isImport(c echo.Context) bool {
	return c.Request().Method == http.MethodPost && c.Path() == "/admin/import"
}

func isLogIngest(c echo.Context) bool {
	return c.Request().Method == http.MethodPost && c.Path() == "/logs"
}

func isOutsideContract(c echo.Context) bool {
	p := c.Request().URL.Path
	for _, prefix := range nonContractPaths {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return false
}

// registerDocs serves the contract and Swagger UI from assets embedded in
// the binary: no CDN, so the docs work without internet access.
func registerDocs(e *echo.Echo) {
	e.GET("/openapi.yaml", securityHeaders(func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", ezapi.OpenAPIYAML)
	}))
	e.GET("/openapi.json", func(c echo.Context) error {
		spec, err := gen.GetSpecJSON()
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, spec)
	})
	ui := echo.WrapHandler(&swaggerUI{})
	e.GET("/docs", securityHeaders(func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, "/docs/")
	}))
	e.GET("/docs/*", securityHeaders(ui))
}

package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/ez-api/ez-api/internal/core/domain"
)

const requestIDKey = "request_id"

// saneRequestID accepts ids a log pipeline can carry safely:
// 1..128 of [A-Za-z0-9._:-] (a loop, not a regular expression: it runs on
// every request).
func saneRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', b == '.', b == '_', b == ':', b == '-':
		default:
			return false
		}
	}
	return true
}

// RequestID returns the request's id (empty before the middleware ran).
func RequestID(c echo.Context) string {
	if id, ok := c.Get(requestIDKey).(string); ok {
		return id
	}
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// requestIDMiddleware keeps a sane incoming X-Request-ID, otherwise
// generates one, and echoes it in the response. The id and the client IP go
// into the request context for audit entries.
func requestIDMiddleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := c.Request().Header.Get(echo.HeaderXRequestID)
			if !saneRequestID(id) {
				id = uuid.Must(uuid.NewV7()).String()
			}
			c.Set(requestIDKey, id)
			c.Response().Header().Set(echo.HeaderXRequestID, id)
			meta := domain.RequestMeta{RequestID: id, ClientIP: c.RealIP()}
			c.SetRequest(c.Request().WithContext(domain.WithRequestMeta(c.Request().Context(), meta)))
			return next(c)
		}
	}
}

// routeLabel is the route template of a request, or one shared label for
// requests that matched no route (so scanners cannot create new series or
// log keys).
func routeLabel(c echo.Context) string {
	if p := c.Path(); p != "" && p != "/*" {
		return p
	}
	return "unmatched"
}

// accessLogMiddleware logs every request once with method, route template,
// status, latency and request id. A panic is logged as a 500 before the
// recovery middleware (outside this one) answers it.
func accessLogMiddleware(logger *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			start := time.Now()
			panicked := true
			defer func() {
				status := c.Response().Status
				if panicked {
					status = http.StatusInternalServerError
				}
				level := slog.LevelInfo
				if status >= 500 {
					level = slog.LevelWarn
				}
				ctx := c.Request().Context()
				if !logger.Enabled(ctx, level) {
					return
				}
				// The attributes are passed as a literal list: no slice to
				// build and grow per request.
				method, route := c.Request().Method, routeLabel(c)
				latency := float64(time.Since(start).Microseconds()) / 1000
				if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
					logger.LogAttrs(ctx, level, "request", slog.String("method", method), slog.String("route", route),
						slog.Int("status", status), slog.Float64("latency_ms", latency), slog.String("request_id", RequestID(c)),
						slog.Int64("bytes_out", c.Response().Size), slog.String("trace_id", sc.TraceID().String()))
					return
				}
				logger.LogAttrs(ctx, level, "request", slog.String("method", method), slog.String("route", route),
					slog.Int("status", status), slog.Float64("latency_ms", latency), slog.String("request_id", RequestID(c)),
					slog.Int64("bytes_out", c.Response().Size))
			}()
			if err = next(c); err != nil {
				// Render now so the logged status is the one sent.
				c.Error(err)
			}
			panicked = false
			return nil
		}
	}
}

// validationProblem converts the request validator's verdict into a problem:
// 404/405 for requests outside the contract, 400 with one entry per
// offending field otherwise.
func validationProblem(c echo.Context, herr *echo.HTTPError) error {
	switch herr.Code {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return &ProblemError{Status: herr.Code, Detail: notFoundDetail(c, herr.Code), Cause: herr}
	}
	fields := fieldErrors(herr.Internal)
	detail := "The request does not match the API contract."
	if len(fields) > 0 {
		detail = fields[0].Field + ": " + fields[0].Message
	}
	status := herr.Code
	if status >= 500 {
		status = http.StatusBadRequest
	}
	return &ProblemError{Status: status, Detail: detail, Fields: fields, Cause: herr}
}

func notFoundDetail(c echo.Context, status int) string {
	if status == http.StatusMethodNotAllowed {
		return fmt.Sprintf("%s is not allowed on %s", c.Request().Method, c.Request().URL.Path)
	}
	return fmt.Sprintf("no operation at %s", c.Request().URL.Path)
}

// fieldErrors flattens kin-openapi's errors into field/message pairs.
func fieldErrors(err error) []domain.FieldError {
	var out []domain.FieldError
	var walk func(err error, field string)
	walk = func(err error, field string) {
		if err == nil {
			return
		}
		var me openapi3.MultiError
		if errors.As(err, &me) {
			for _, e := range me {
				walk(e, field)
			}
			return
		}
		var re *openapi3filter.RequestError
		if errors.As(err, &re) {
			f := field
			switch {
			case re.Parameter != nil:
				f = re.Parameter.Name
			case re.RequestBody != nil && f == "":
				f = "body"
			}
			if re.Err != nil {
				var inner openapi3.MultiError
				var se *openapi3.SchemaError
				if errors.As(re.Err, &inner) || errors.As(re.Err, &se) {
					walk(re.Err, f)
					return
				}
			}
			msg := re.Reason
			if msg == "" && re.Err != nil {
				msg = re.Err.Error()
			}
			out = append(out, domain.FieldError{Field: f, Message: msg})
			return
		}
		var se *openapi3.SchemaError
		if errors.As(err, &se) {
			f := field
			if ptr := se.JSONPointer(); len(ptr) > 0 {
				f = strings.Join(ptr, ".")
			}
			msg := se.Reason
			if msg == "" {
				msg = "invalid value"
			}
			out = append(out, domain.FieldError{Field: f, Message: msg})
			return
		}
		out = append(out, domain.FieldError{Field: orBody(field), Message: firstLine(err.Error())})
	}
	walk(err, "")
	return out
}

func orBody(field string) string {
	if field == "" {
		return "body"
	}
	return field
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// tracingMiddleware names the request's span (started by otelhttp around
// the server) after the route template and tags it, so traces group by
// operation rather than by raw path.
func tracingMiddleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			err := next(c)
			span := trace.SpanFromContext(c.Request().Context())
			if span.IsRecording() {
				route := routeLabel(c)
				span.SetName(c.Request().Method + " " + route)
				span.SetAttributes(attribute.String("http.route", route), attribute.String("ezapi.request_id", RequestID(c)))
			}
			return err
		}
	}
}

package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/trace"

	"github.com/ez-api/ez-api/internal/adapters/httpapi/gen"
	"github.com/ez-api/ez-api/internal/core/domain"
)

// ContentTypeProblem is the media type of every error body (RFC 9457).
const ContentTypeProblem = "application/problem+json"

// statusTable maps the domain's sentinel errors to HTTP statuses: the one
// place where that decision is made.
var statusTable = []struct {
	err    error
	status int
}{
	{domain.ErrNotFound, http.StatusNotFound},
	{domain.ErrConflict, http.StatusConflict},
	{domain.ErrInvalid, http.StatusUnprocessableEntity},
	{domain.ErrForbidden, http.StatusForbidden},
	{domain.ErrUnauthenticated, http.StatusUnauthorized},
	{domain.ErrRateLimited, http.StatusTooManyRequests},
	{domain.ErrUnavailable, http.StatusServiceUnavailable},
}

// problemSlugs name the problem type of each status.
var problemSlugs = map[int]string{
	http.StatusBadRequest:                  "bad-request",
	http.StatusUnauthorized:                "unauthenticated",
	http.StatusForbidden:                   "forbidden",
	http.StatusNotFound:                    "not-found",
	http.StatusMethodNotAllowed:            "method-not-allowed",
	http.StatusConflict:                    "conflict",
	http.StatusRequestEntityTooLarge:       "body-too-large",
	http.StatusUnsupportedMediaType:        "unsupported-media-type",
	http.StatusUnprocessableEntity:         "validation",
	http.StatusTooManyRequests:             "rate-limited",
	http.StatusRequestHeaderFieldsTooLarge: "headers-too-large",
	http.StatusInternalServerError:         "internal",
	http.StatusServiceUnavailable:          "unavailable",
}

// ProblemError is an error that already knows its HTTP answer.
type ProblemError struct {
	Status int
	Detail string
	Fields []domain.FieldError
	Cause  error
	// Header is added to the response (e.g. Retry-After).
	Header http.Header
	// Public shows Detail even on a 5xx: it was written for the caller and
	// holds nothing the caller may not see.
	Public bool
}

func (e *ProblemError) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Detail, e.Cause)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Detail)
}

func (e *ProblemError) Unwrap() error { return e.Cause }

// StatusOf maps any error to the status it is answered with.
func StatusOf(err error) int {
	var pe *ProblemError
	if errors.As(err, &pe) {
		return pe.Status
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.Code
	}
	for _, row := range statusTable {
		if errors.Is(err, row.err) {
			return row.status
		}
	}
	return http.StatusInternalServerError
}

// NewProblem builds the body for status; detail and fields are shown only
// below 500.
func NewProblem(status int, detail string, fields []domain.FieldError, instance, requestID string) gen.Problem {
	slug, ok := problemSlugs[status]
	if !ok {
		slug = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "-"))
	}
	title := http.StatusText(status)
	if title == "" {
		title = "Error"
	}
	p := gen.Problem{
		Type:   "urn:ezapi:problem:" + slug,
		Title:  title,
		Status: int32(status),
	}
	if status >= 500 {
		// Never show the cause of a server failure; the log has it under the request id.
		detail, fields = "", nil
		if status == http.StatusInternalServerError {
			detail = "The server failed to handle the request; report the request id."
		}
	}
	if detail != "" {
		p.Detail = &detail
	}
	if instance != "" {
		p.Instance = &instance
	}
	if requestID != "" {
		p.RequestId = &requestID
	}
	if len(fields) > 0 {
		errs := make([]gen.FieldError, len(fields))
		for i, f := range fields {
			errs[i] = gen.FieldError{Field: f.Field, Message: f.Message}
		}
		p.Errors = &errs
	}
	return p
}

// problemFor turns an error into the status, body and extra headers.
func problemFor(err error, c echo.Context) (gen.Problem, http.Header) {
	status := StatusOf(err)
	var (
		detail string
		fields []domain.FieldError
		header http.Header
	)
	var pe *ProblemError
	var he *echo.HTTPError
	var ve *domain.ValidationError
	var fe *domain.ForbiddenFieldError
	var rl *domain.RateLimitedError
	switch {
	case errors.As(err, &rl):
		detail = rl.Error()
		secs := int(math.Ceil(rl.RetryAfter.Seconds()))
		header = http.Header{"Retry-After": {strconv.Itoa(max(secs, 1))}}
	case errors.As(err, &pe):
		detail, fields, header = pe.Detail, pe.Fields, pe.Header
	case errors.As(err, &he):
		if msg, ok := he.Message.(string); ok && msg != http.StatusText(he.Code) {
			detail = msg
		}
	case errors.As(err, &ve):
		detail, fields = ve.Error(), ve.Fields
	case errors.As(err, &fe):
		detail, fields = fe.Error(), fe.Fields
	default:
		// Domain errors are wrapped with context written for the caller.
		detail = err.Error()
	}
	if status == http.StatusServiceUnavailable && header.Get("Retry-After") == "" {
		if header == nil {
			header = http.Header{}
		}
		header.Set("Retry-After", "1")
	}
	p := NewProblem(status, detail, fields, c.Request().URL.Path, RequestID(c))
	if pe != nil && pe.Public && detail != "" && p.Detail == nil {
		p.Detail = &detail
	}
	if sc := trace.SpanContextFromContext(c.Request().Context()); sc.HasTraceID() {
		id := sc.TraceID().String()
		p.TraceId = &id
	}
	return p, header
}

// ErrorHandler is Echo's HTTPErrorHandler: every error the service emits is
// rendered here as application/problem+json carrying the request id.
func ErrorHandler(logger *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		if clientGone(c, err) {
			// Nobody reads the answer; record 499 (logs and metrics) rather
			// than a 5xx the server did not cause.
			_ = c.NoContent(StatusClientClosedRequest)
			return
		}
		p, header := problemFor(err, c)
		status := int(p.Status)
		if status >= 500 {
			logger.ErrorContext(c.Request().Context(), "request failed",
				"request_id", RequestID(c), "method", c.Request().Method,
				"path", c.Request().URL.Path, "status", status, "error", err)
		}
		WriteProblem(c, p, header)
	}
}

// WriteProblem writes a problem body with its status.
func WriteProblem(c echo.Context, p gen.Problem, header http.Header) {
	h := c.Response().Header()
	for k, vs := range header {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(int(p.Status))
		return
	}
	body, _ := json.Marshal(p) // a Problem always marshals
	_ = c.Blob(int(p.Status), ContentTypeProblem, body)
}

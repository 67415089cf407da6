package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// internalDetail is the only detail a 500 shows.
const internalDetail = "The server failed to handle the request; report the request id."

// problemBody is a decoded problem document; pointers tell absent from empty.
type problemBody struct {
	Type      *string           `json:"type"`
	Title     *string           `json:"title"`
	Status    *int              `json:"status"`
	Detail    *string           `json:"detail"`
	Instance  *string           `json:"instance"`
	RequestID *string           `json:"request_id"`
	Errors    []json.RawMessage `json:"errors"`
}

// checkProblemBody checks a rendered problem against the status it must
// carry and the detail, fields, instance and request id it was built from.
func checkProblemBody(t *testing.T, body []byte, status int, detail string, nFields int, instance, requestID string) {
	t.Helper()
	if !json.Valid(body) {
		t.Fatalf("problem is not valid JSON: %q", body)
	}
	var p problemBody
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem does not decode: %v: %q", err, body)
	}
	if p.Status == nil || *p.Status != status {
		t.Fatalf("problem status %v, want %d: %s", p.Status, status, body)
	}
	if p.Title == nil || *p.Title == "" || p.Type == nil || !strings.HasPrefix(*p.Type, "urn:ezapi:problem:") ||
		strings.ContainsAny(*p.Type, " \t\n") {
		t.Fatalf("problem type/title malformed: %s", body)
	}
	if status >= 500 {
		switch {
		case len(p.Errors) > 0:
			t.Fatalf("status %d shows field errors: %s", status, body)
		case status == http.StatusInternalServerError && (p.Detail == nil || *p.Detail != internalDetail):
			t.Fatalf("500 without the fixed detail: %s", body)
		case status != http.StatusInternalServerError && p.Detail != nil:
			t.Fatalf("status %d shows a detail: %s", status, body)
		}
	} else {
		if (p.Detail != nil) != (detail != "") {
			t.Fatalf("status %d: detail %q rendered as %v", status, detail, p.Detail)
		}
		if p.Detail != nil && utf8.ValidString(detail) && *p.Detail != detail {
			t.Fatalf("status %d: detail %q rendered as %q", status, detail, *p.Detail)
		}
		if len(p.Errors) != nFields {
			t.Fatalf("status %d: %d field errors rendered, want %d", status, len(p.Errors), nFields)
		}
	}
	if (p.Instance != nil) != (instance != "") || (p.RequestID != nil) != (requestID != "") {
		t.Fatalf("instance/request_id presence wrong: %s", body)
	}
	if p.Instance != nil && utf8.ValidString(instance) && *p.Instance != instance ||
		p.RequestID != nil && utf8.ValidString(requestID) && *p.RequestID != requestID {
		t.Fatalf("instance %q / request id %q not rendered as given: %s", instance, requestID, body)
	}
}

// sentinels are the domain errors of problem.go's status table.
var sentinels = []error{domain.ErrNotFound, domain.ErrConflict, domain.ErrInvalid, domain.ErrForbidden,
	domain.ErrUnauthenticated, domain.ErrRateLimited, domain.ErrUnavailable}

// FuzzProblem renders problems for every status in 100..599 and any
// strings, directly (NewProblem) and through ErrorHandler for each kind of
// error it knows. Invariants: never panics; the body is valid JSON whose
// status is the requested (or mapped) status and equals the response code;
// detail and field errors are hidden from 500 up (500 shows a fixed
// sentence); the instance and request id are carried; 503 always has a
// Retry-After; HEAD gets no body; the content type is problem+json.
func FuzzProblem(f *testing.F) {
	f.Add(400, "name: is required", "/providers", "01J9Z3X5V7T1Q2W3E4R5T6Y7U8", "name", "is required", uint8(0), false)
	e := echo.New()
	handler := ErrorHandler(slog.New(slog.DiscardHandler))
	f.Fuzz(func(t *testing.T, rawStatus int, detail, instance, requestID, field, message string, kind uint8, head bool) {
		status := ((rawStatus-100)%500+500)%500 + 100 // 100..599; 100..599 map to themselves
		var fields []domain.FieldError
		if field != "" || message != "" {
			fields = []domain.FieldError{{Field: field, Message: message}}
		}

		// NewProblem on its own.
		p := NewProblem(status, detail, fields, instance, requestID)
		if int(p.Status) != status {
			t.Fatalf("NewProblem(%d).Status = %d", status, p.Status)
		}
		body, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal problem: %v", err)
		}
		checkProblemBody(t, body, status, detail, len(fields), instance, requestID)

		// Through the error handler.
		var (
			herr       error
			wantStatus = status
			wantDetail = detail
			wantFields = len(fields)
		)
		switch kind % 5 {
		case 0:
			herr = &ProblemError{Status: status, Detail: detail, Fields: fields}
		case 1:
			herr = fmt.Errorf("wrapped: %w", &ProblemError{Status: status, Detail: detail, Fields: fields})
		case 2:
			herr = echo.NewHTTPError(status, detail)
			wantFields = 0
			if detail == http.StatusText(status) {
				wantDetail = ""
			}
		case 3:
			s := sentinels[int(kind/5)%len(sentinels)]
			herr = fmt.Errorf("%s: %w", detail, s)
			wantStatus, wantDetail, wantFields = StatusOf(s), herr.Error(), 0
		default:
			herr = errors.New(detail)
			wantStatus, wantFields = http.StatusInternalServerError, 0
		}
		if got := StatusOf(herr); got != wantStatus {
			t.Fatalf("StatusOf(%T) = %d, want %d", herr, got, wantStatus)
		}

		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		req := httptest.NewRequest(method, "/", nil)
		req.URL.Path = instance
		rec := httptest.NewRecorder()
		c := e.NewContext(req, rec)
		if requestID != "" {
			c.Set(requestIDKey, requestID)
		}
		handler(herr, c)

		if rec.Code != wantStatus {
			t.Fatalf("%T with status %d answered %d", herr, wantStatus, rec.Code)
		}
		if wantStatus == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
			t.Fatalf("503 without Retry-After")
		}
		if head {
			if rec.Body.Len() != 0 {
				t.Fatalf("HEAD answered with a body: %q", rec.Body.Bytes())
			}
			return
		}
		if ct := rec.Header().Get(echo.HeaderContentType); ct != ContentTypeProblem {
			t.Fatalf("content type %q", ct)
		}
		checkProblemBody(t, rec.Body.Bytes(), wantStatus, wantDetail, wantFields, instance, requestID)
	})
}

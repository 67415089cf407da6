package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// StatusClientClosedRequest is what a request whose client went away is
// recorded as (nginx's 499): not a server error.
const StatusClientClosedRequest = 499

// clientGone reports whether err is only the echo of the client closing
// the request (its context cancelled) rather than a server failure.
func clientGone(c echo.Context, err error) bool {
	if !errors.Is(c.Request().Context().Err(), context.Canceled) {
		return false
	}
	return errors.Is(err, context.Canceled) || StatusOf(err) >= 500
}

// probePaths are the orchestrator and monitoring endpoints: exempt from the
// rate-limit rules that do not name them.
var probePaths = map[string]bool{"/livez": true, "/readyz": true, "/health": true, "/metrics": true}

// optionalAuthPaths are public operations that show more to an
// authenticated caller (dependency error details).
var optionalAuthPaths = map[string]bool{"/health": true, "/readyz": true}

// apiHeadersMiddleware marks every API response as not to be sniffed nor
// stored: responses carry tokens (login, service tokens, client and master
// keys on create and rotate) and tenant data that no shared cache should
// keep. The docs pages set their own headers.
func apiHeadersMiddleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !isOutsideContract(c) {
				h := c.Response().Header()
				h.Set("X-Content-Type-Options", "nosniff")
				h.Set("Cache-Control", "no-store")
			}
			return next(c)
		}
	}
}

// inputProblem is a 400 naming one field.
func inputProblem(field, msg string) *ProblemError {
	return &ProblemError{Status: http.StatusBadRequest, Detail: field + ": " + msg,
		Fields: []domain.FieldError{{Field: field, Message: msg}}}
}

// bodyMiddleware reads the request body once and refuses, with a 400
// naming the field, what the rest of the stack would turn into a 500 or
// silently reinterpret: bodies that are not valid UTF-8 (Go's decoder would
// store U+FFFD), NUL characters (PostgreSQL text cannot hold them),
// time-zone offsets beyond ±15:59 (PostgreSQL refuses them), and — for
// JSON bodies checked strictly — duplicate keys (last would win) and data
// after the JSON value. Query parameters get the NUL and offset checks too.
// A body that does not arrive within server.read_timeout is a 408.
func bodyMiddleware(strictJSON func(echo.Context) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			for name, vals := range req.URL.Query() {
				for _, v := range vals {
					if msg := badString(v); msg != "" {
						return inputProblem(name, msg)
					}
				}
			}
			if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
				return next(c)
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return bodyReadProblem(c, err)
			}
			if !utf8.Valid(body) {
				return inputProblem("body", "not valid UTF-8")
			}
			if strictJSON(c) && isJSON(req.Header.Get(echo.HeaderContentType)) {
				if p := checkJSON(body); p != nil {
					return p
				}
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			return next(c)
		}
	}
}

// bodyReadProblem classifies a failed body read: the body limit's 413
// passes through, a read deadline is the client's slowness (408), a closed
// connection the client's departure (499), anything else a broken body.
func bodyReadProblem(c echo.Context, err error) error {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &ProblemError{Status: http.StatusRequestTimeout,
			Detail: "The request body did not arrive in time.", Cause: err,
			Header: http.Header{"Connection": {"close"}}}
	}
	if c.Request().Context().Err() != nil {
		return &ProblemError{Status: StatusClientClosedRequest, Detail: "client closed request", Cause: err}
	}
	return &ProblemError{Status: http.StatusBadRequest, Detail: "body: incomplete request body", Cause: err,
		Fields: []domain.FieldError{{Field: "body", Message: "incomplete request body"}}}
}

func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	return mt == echo.MIMEApplicationJSON || strings.HasSuffix(mt, "+json")
}

// dateTimeWithOffset matches an RFC 3339 date-time with a numeric offset.
var dateTimeWithOffset = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?[+-](\d{2}):(\d{2})$`)

// badString says what is wrong with a string value ("" when nothing).
func badString(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return "must not contain NUL characters"
	}
	if len(s) >= 25 && len(s) <= 40 {
		if m := dateTimeWithOffset.FindStringSubmatch(s); m != nil {
			h, _ := strconv.Atoi(m[1])
			mm, _ := strconv.Atoi(m[2])
			if h > 15 || mm > 59 {
				return "time-zone offset must be within ±15:59"
			}
		}
	}
	return ""
}

// checkJSON walks body's tokens once: duplicate keys at any depth, strings
// with NUL or an impossible offset, and anything after the value. Syntax
// errors are left to the request validator, which reports them in the
// contract's terms.
func checkJSON(body []byte) *ProblemError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]struct{}
		key    string // object: current key; array: current index
		want   bool   // object: the next string token is a key
		index  int
	}
	var stack []*frame
	path := func(last string) string {
		parts := make([]string, 0, len(stack)+1)
		for _, f := range stack[:max(len(stack)-1, 0)] {
			parts = append(parts, f.key)
		}
		if last != "" {
			parts = append(parts, last)
		}
		if len(parts) == 0 {
			return "body"
		}
		return strings.Join(parts, ".")
	}
	// valueDone advances the enclosing container after a complete value.
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.object {
			f.want = true
		} else {
			f.index++
			f.key = strconv.Itoa(f.index)
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return nil // malformed: the validator answers
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{':
				stack = append(stack, &frame{object: true, keys: map[string]struct{}{}, want: true})
			case '[':
				stack = append(stack, &frame{key: "0"})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			if top != nil && top.object && top.want {
				if _, dup := top.keys[v]; dup {
					return inputProblem(path(v), "duplicate key")
				}
				if msg := badString(v); msg != "" {
					return inputProblem(path(""), "key "+msg)
				}
				top.keys[v] = struct{}{}
				top.key, top.want = v, false
				continue
			}
			if msg := badString(v); msg != "" {
				field := "body"
				if top != nil {
					field = path(top.key)
				}
				return inputProblem(field, msg)
			}
			valueDone()
		default:
			valueDone()
		}
		if len(stack) == 0 {
			if dec.More() {
				return inputProblem("body", "unexpected data after the JSON value")
			}
			if _, err := dec.Token(); err != io.EOF {
				return inputProblem("body", "unexpected data after the JSON value")
			}
			return nil
		}
	}
}

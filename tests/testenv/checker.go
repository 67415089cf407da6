package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	ezapi "github.com/ez-api/ez-api"
)

// Checker validates responses against openapi.yaml with kin-openapi: an
// undocumented status or a body that breaks its schema is a violation.
// It also records which (operation, status) pairs were exercised.
type Checker struct {
	router routers.Router

	mu        sync.Mutex
	exercised map[string]map[int]bool
}

// NewChecker loads the contract, openapi.yaml.
func NewChecker() (*Checker, error) {
	spec, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	r, err := gorillamux.NewRouter(spec)
	if err != nil {
		return nil, err
	}
	return &Checker{router: r, exercised: map[string]map[int]bool{}}, nil
}

// Check validates one exchange. body is the response body already read.
func (c *Checker) Check(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		// Outside the contract (unknown route or method): it must still be a problem.
		if status >= 400 && !strings.HasPrefix(header.Get("Content-Type"), "application/problem+json") {
			return fmt.Errorf("%s %s → %d: error outside the contract is not application/problem+json", req.Method, req.URL.Path, status)
		}
		return nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      route,
			Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status: status,
		Header: header,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s (%s) → %d breaks the contract: %w", req.Method, req.URL.Path, route.Operation.OperationID, status, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	op := route.Operation.OperationID
	if c.exercised[op] == nil {
		c.exercised[op] = map[int]bool{}
	}
	c.exercised[op][status] = true
	return nil
}

// Exercised returns the (operationId → statuses) pairs seen so far.
func (c *Checker) Exercised() map[string][]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]int, len(c.exercised))
	for op, st := range c.exercised {
		for s := range st {
			out[op] = append(out[op], s)
		}
	}
	return out
}

// LoadSpec parses and validates openapi.yaml as users read it, with the
// servers removed so any test host matches.
func LoadSpec() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	spec, err := loader.LoadFromData(ezapi.OpenAPIYAML)
	if err != nil {
		return nil, err
	}
	if err := spec.Validate(loader.Context); err != nil {
		return nil, err
	}
	spec.Servers = nil
	return spec, nil
}

// Transport wraps an http.RoundTripper so every response is checked; a
// violation is passed to report (the test's Errorf).
type Transport struct {
	Base    http.RoundTripper
	Checker *Checker
	Report  func(format string, args ...any)
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.GetBody != nil {
		rc, err := req.GetBody()
		if err == nil {
			reqBody, _ = io.ReadAll(rc)
			_ = rc.Close()
		}
	}
	resp, err := t.Base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	vreq := req.Clone(req.Context())
	if reqBody != nil {
		vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	if cerr := t.Checker.Check(vreq, resp.StatusCode, resp.Header, body); cerr != nil {
		t.Report("%v", cerr)
	}
	return resp, nil
}

// WriteExercised saves the exercised (operation, status) pairs into dir for
// the contract-coverage check that runs after every suite.
func (c *Checker) WriteExercised(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(c.Exercised())
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "exercised-*.json")
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.Write(b)
	return err
}

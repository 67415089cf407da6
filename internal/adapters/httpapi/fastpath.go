package httpapi

import (
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"
	oapimw "github.com/oapi-codegen/echo-middleware"
)

// unvalidatedOperations lists the operations ("METHOD /echo/route") that
// declare neither parameters nor a request body: kin-openapi has nothing
// to check there (undeclared query parameters are ignored and a body is
// not looked at), so the validator's route lookup is skipped for them.
// A request that matched no operation is still validated, which is what
// answers it 404 or 405.
func unvalidatedOperations(spec *openapi3.T) map[string]bool {
	out := map[string]bool{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if len(item.Parameters) == 0 && len(op.Parameters) == 0 && op.RequestBody == nil {
				out[method+" "+echoPath(path)] = true
			}
		}
	}
	return out
}

// skipsValidation reports whether the request's operation is one of skip.
func skipsValidation(skip map[string]bool, c echo.Context) bool {
	p := c.Path()
	return p != "" && skip[c.Request().Method+" "+p]
}

// operationRoutes maps each operation ("METHOD /echo/route") to its
// kin-openapi route, so that request validation starts from the route Echo
// already matched instead of matching the path again against every
// operation's regular expression (gorillamux's FindRoute was half of the
// validator's cost on a read).
func operationRoutes(spec *openapi3.T) map[string]*routers.Route {
	out := map[string]*routers.Route{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			out[method+" "+echoPath(path)] = &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op}
		}
	}
	return out
}

// matchedRoute is the router of one request: the operation Echo matched and
// its path parameters.
type matchedRoute struct {
	route  *routers.Route
	params map[string]string
}

func (m matchedRoute) FindRoute(*http.Request) (*routers.Route, map[string]string, error) {
	return m.route, m.params, nil
}

// requestValidator validates a request against its operation, found from
// Echo's match. A request that matched no operation goes to fallback (the
// path-matching validator), which answers it 404 or 405 as before.
func requestValidator(spec *openapi3.T, opts *oapimw.Options, fallback echo.MiddlewareFunc) echo.MiddlewareFunc {
	routes := operationRoutes(spec)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		slow := fallback(next)
		return func(c echo.Context) error {
			if opts.Skipper != nil && opts.Skipper(c) {
				return next(c)
			}
			route := routes[c.Request().Method+" "+c.Path()]
			if route == nil {
				return slow(c)
			}
			names, values := c.ParamNames(), c.ParamValues()
			params := make(map[string]string, len(names))
			for i, n := range names {
				if i < len(values) {
					params[n] = values[i]
				}
			}
			if herr := oapimw.ValidateRequestFromContext(c, matchedRoute{route, params}, opts); herr != nil {
				return opts.ErrorHandler(c, herr)
			}
			return next(c)
		}
	}
}

package httpapi

import (
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
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

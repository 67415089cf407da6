// Package ezapi carries the API contract, openapi.yaml, into the binary so
// the server can serve it byte for byte at /openapi.yaml.
package ezapi

import _ "embed"

// OpenAPIYAML is the contract every HTTP route is declared in first.
//
//go:embed openapi.yaml
var OpenAPIYAML []byte

// Package apiclient is the Go client generated from openapi.yaml, used by the
// black-box suites the way a user's generated client would be.
package apiclient

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../../openapi.yaml

// Package gen holds the Echo strict server, models and embedded spec generated
// from openapi.yaml. Never edit *.gen.go by hand: run `make generate`.
package gen

//go:generate go tool oapi-codegen -config oapi-codegen.yaml ../../../../openapi.yaml

// Package web holds the admin console: its TypeScript sources (src/, built
// with Vite from the pinned package-lock.json) and the built files in dist/,
// which are committed so that `go build ./cmd/ezapi` on a fresh clone serves
// the console without Node.js. `make check-generated` rebuilds dist/ and
// fails when it differs from what is committed.
package web

import (
	"embed"
	"io/fs"
)

//go:embed dist
var dist embed.FS

// Console returns the built console: index.html and assets/.
func Console() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path; fs.Sub fails only on invalid ones
	}
	return sub
}

package httpapi

import (
	_ "embed"
	"net/http"
	"strings"
	"sync"

	"github.com/swaggest/swgui/v5/static"
	"github.com/vearutop/statigz"
)

// swaggerIndex is the Swagger UI page for /openapi.yaml, as swgui's v5emb
// handler renders it for title "ezapi API" at /docs/. It is a fixed page, kept
// as a file: swgui renders it with html/template on every request, and a
// reachable template executor makes the linker keep every exported method of
// every type in the binary (go-redis alone has thousands), which is most of
// the binary's size and of its resident pages at start.
//
//go:embed swagger_index.html
var swaggerIndex []byte

// swaggerUI serves the page at /docs/ and the embedded Swagger UI assets
// (pre-compressed, served gzip or plain as the client accepts) below it.
type swaggerUI struct {
	once   sync.Once
	assets http.Handler
}

func (u *swaggerUI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.TrimSuffix(r.URL.Path, "/") == "/docs" {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write(swaggerIndex)
		return
	}
	// The file server hashes every asset (600 KB) for its ETags when built: done
	// when someone first opens the docs, not at every start.
	u.once.Do(func() { u.assets = http.StripPrefix("/docs/", statigz.FileServer(static.FS)) })
	u.assets.ServeHTTP(w, r)
}

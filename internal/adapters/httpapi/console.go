package httpapi

import (
	"io/fs"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/ez-api/ez-api/web"
)

// consoleCSP allows nothing but the console's own files and same-origin API
// calls: no inline script or style, no framing, no other origin.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// registerConsole serves the admin console (web/dist, embedded) at /ui/.
// Hashed assets are cached for good; index.html is revalidated, so a new
// binary's console is picked up at once.
func registerConsole(e *echo.Echo) {
	files := web.Console()
	server := http.FileServer(http.FS(files))
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		panic("web/dist/index.html is missing: run `make console` and rebuild") // the build embeds it
	}
	serve := func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		name := strings.TrimPrefix(c.Request().URL.Path, "/ui/")
		if name == "" || name == "index.html" {
			h.Set("Cache-Control", "no-cache")
			return c.HTMLBlob(http.StatusOK, index)
		}
		if _, err := fs.Stat(files, name); err != nil {
			return echo.ErrNotFound
		}
		if strings.HasPrefix(name, "assets/") {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		r := c.Request().Clone(c.Request().Context())
		r.URL.Path = "/" + name
		server.ServeHTTP(c.Response(), r)
		return nil
	}
	e.GET("/ui", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, "/ui/") })
	e.GET("/ui/*", serve)
	e.HEAD("/ui/*", serve)
}

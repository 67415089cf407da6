// Package leak_test checks that a server started in-process leaves no
// goroutine behind once it is shut down and its resources are closed.
package leak_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/tests/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestNoGoroutineOutlivesShutdown(t *testing.T) {
	before := goleak.IgnoreCurrent()
	cfg, err := app.LoadConfig(testenv.Environ())
	require.NoError(t, err)
	srv, cleanup, err := app.InitializeServer(cfg, io.Discard)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, srv.Start(ctx))

	// Exercise the background parts: HTTP, the publisher, the log pipeline.
	tr := &http.Transport{}
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for _, p := range []string{"/health", "/readyz", "/metrics", "/nope"} {
		res, err := client.Get("http://" + srv.Addr() + p)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
	}
	tr.CloseIdleConnections()

	require.NoError(t, srv.Shutdown(ctx))
	cleanup()
	goleak.VerifyNone(t, before)
}

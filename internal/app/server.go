package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/ez-api/ez-api/internal/adapters/logsink"
	"github.com/ez-api/ez-api/internal/adapters/postgres"
	"github.com/ez-api/ez-api/internal/core/health"
	"github.com/ez-api/ez-api/internal/core/snapshot"
)

// Server owns the HTTP listener and the lifecycle: migrate, listen, serve,
// and shut down gracefully.
type Server struct {
	cfg       Config
	echo      *echo.Echo
	health    *health.Service
	migrator  *postgres.Migrator
	publisher *snapshot.Publisher
	logMaint  *logsink.Maintainer
	logSink   *logsink.Sink
	logger    *slog.Logger
	tracing   Tracing

	http     *http.Server
	ln       net.Listener
	served   chan error
	stopOnce sync.Once
	stopErr  error
}

// NewServer assembles the server; nothing starts until Start.
func NewServer(cfg Config, e *echo.Echo, h *health.Service, m *postgres.Migrator, pub *snapshot.Publisher,
	logMaint *logsink.Maintainer, sink *logsink.Sink, tr Tracing, logger *slog.Logger) *Server {
	return &Server{cfg: cfg, echo: e, health: h, migrator: m, publisher: pub, logMaint: logMaint, logSink: sink, logger: logger, tracing: tr}
}

// Start migrates (unless postgres.auto_migrate is false), binds the listener
// and serves in the background. Readiness turns 200 once it returns nil.
func (s *Server) Start(ctx context.Context) error {
	started := time.Now()
	for _, w := range s.cfg.Warnings {
		s.logger.Warn(w)
	}
	if s.cfg.Auth.JWTSecretGenerated {
		s.logger.Warn("auth.jwt_secret (EZ_JWT_SECRET) is not set: using a random secret generated for this start; " +
			"access tokens do not survive a restart and are not accepted by other replicas")
	}
	if s.cfg.Postgres.AutoMigrate {
		n, err := s.migrator.Up(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			s.logger.Info("migrations applied", "count", n)
		}
	}
	s.publisher.Start()
	s.logMaint.Start()
	ln, err := net.Listen("tcp", s.cfg.ListenAddr())
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.ListenAddr(), err)
	}
	s.ln = ln
	// otelhttp starts a span per request and takes W3C trace context from
	// the caller; the Echo tracing middleware names it by route. With
	// tracing off it would only wrap the writer and time every request
	// for nothing, so Echo serves directly.
	var handler http.Handler = s.echo
	if s.tracing.On {
		handler = otelhttp.NewHandler(s.echo, "http")
	}
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: s.cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.Server.ReadTimeout,
		WriteTimeout:      s.cfg.Server.WriteTimeout,
		IdleTimeout:       s.cfg.Server.IdleTimeout,
		MaxHeaderBytes:    s.cfg.Server.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.served = make(chan error, 1)
	tlsOn := s.cfg.Server.TLS.CertFile != ""
	go func() {
		var err error
		if tlsOn {
			s.http.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			err = s.http.ServeTLS(ln, s.cfg.Server.TLS.CertFile, s.cfg.Server.TLS.KeyFile)
		} else {
			err = s.http.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.served <- err
	}()
	// Start-up (spec parsing, migrations) leaves garbage behind; hand it
	// back to the OS so an idle replica stays small.
	debug.FreeOSMemory()
	s.health.SetPhase(health.PhaseServing)
	s.logger.Info("serving", "addr", ln.Addr().String(), "mode", s.cfg.Mode, "tls", tlsOn,
		"version", s.health.Build().Version, "startup_ms", time.Since(started).Milliseconds())
	return nil
}

// Publisher is the server's snapshot publisher.
func (s *Server) Publisher() *snapshot.Publisher { return s.publisher }

// Health is the server's health service (lifecycle phase and probes).
func (s *Server) Health() *health.Service { return s.health }

// Addr is the bound listener address (useful with port 0).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Run starts the server and blocks until ctx is cancelled (SIGINT/SIGTERM)
// or serving fails, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		s.logger.Info("shutting down", "timeout", s.cfg.Server.ShutdownTimeout)
	case err := <-s.served:
		s.served <- err
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Server.ShutdownTimeout)
	defer cancel()
	return s.Shutdown(shutdownCtx)
}

// Shutdown turns readiness to 503, stops the listener, waits for in-flight
// requests until ctx ends, then stops the publisher. Calling it again
// returns the first call's result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() { s.stopErr = s.shutdown(ctx) })
	return s.stopErr
}

func (s *Server) shutdown(ctx context.Context) error {
	s.health.SetPhase(health.PhaseShuttingDown)
	var httpErr error
	if s.http != nil {
		if httpErr = s.http.Shutdown(ctx); httpErr != nil {
			_ = s.http.Close() // drop what is still in flight: the budget is spent
		}
	}
	// In-flight requests are done; write what is still queued, then stop.
	// Every stage shares the one shutdown budget: a stage still running when
	// it ends is named and left behind, so the process exits on time.
	for _, st := range []struct {
		what string
		fn   func()
	}{
		{"writing the queued access-log records to PostgreSQL", s.logSink.Close},
		{"stopping log partition maintenance", s.logMaint.Close},
		{"stopping the snapshot publisher", s.publisher.Close},
	} {
		if err := within(ctx, st.fn); err != nil {
			return fmt.Errorf("shutdown stopped waiting after %s (server.shutdown_timeout) while %s; "+
				"what it had not finished is lost or left to the next start", s.cfg.Server.ShutdownTimeout, st.what)
		}
	}
	if httpErr != nil {
		return fmt.Errorf("server.shutdown_timeout (%s) reached before in-flight requests finished; they were cut off: %w",
			s.cfg.Server.ShutdownTimeout, httpErr)
	}
	if s.http != nil {
		if err := <-s.served; err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	}
	s.logger.Info("stopped")
	return nil
}

// within runs fn and waits for it until ctx ends.
func within(ctx context.Context, fn func()) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

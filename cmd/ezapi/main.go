// Command ezapi is the control plane of the EZ-API gateway.
//
//	ezapi serve                  run the HTTP server (migrates first unless postgres.auto_migrate is false)
//	ezapi migrate up|down|status manage the database schema
//	ezapi version                print build information
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ez-api/ez-api/internal/app"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

const usage = `usage: ezapi <command>

commands:
  serve                    run the HTTP server
  migrate up|down|status   manage the database schema
  version                  print build information

configuration: environment (EZ_*) > config file (EZ_CONFIG_FILE, ./config.yaml,
./config/config.yaml) > defaults; see config.example.yaml.
`

func main() {
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

func run(args, environ []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitConfig
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch args[0] {
	case "version":
		b := app.ProvideBuildInfo()
		fmt.Fprintf(stdout, "ezapi %s (commit %s, built %s, %s)\n", b.Version, b.Commit, b.BuildTime, b.GoVersion)
		return exitOK
	case "serve":
		return withConfig(environ, stderr, func(cfg app.Config) error {
			srv, cleanup, err := app.InitializeServer(cfg, stderr)
			if err != nil {
				return err
			}
			defer cleanup()
			return srv.Run(ctx)
		})
	case "migrate":
		if len(args) != 2 || (args[1] != "up" && args[1] != "down" && args[1] != "status") {
			fmt.Fprint(stderr, "usage: ezapi migrate up|down|status\n")
			return exitConfig
		}
		return withConfig(environ, stderr, func(cfg app.Config) error {
			m, cleanup, err := app.InitializeMigrator(cfg, stderr)
			if err != nil {
				return err
			}
			defer cleanup()
			switch args[1] {
			case "up":
				n, err := m.Up(ctx)
				if err == nil {
					fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
				}
				return err
			case "down":
				return m.Down(ctx)
			default:
				return m.Status(ctx, stdout)
			}
		})
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "ezapi: unknown command %q\n\n%s", args[0], usage)
		return exitConfig
	}
}

// withConfig loads the configuration, printing one line and returning exit
// status 2 when it is invalid, then runs fn.
func withConfig(environ []string, stderr io.Writer, fn func(app.Config) error) int {
	cfg, err := app.LoadConfig(environ)
	if err != nil {
		fmt.Fprintf(stderr, "ezapi: %v\n", err)
		var ce *app.ConfigError
		if errors.As(err, &ce) {
			return exitConfig
		}
		return exitFail
	}
	if err := fn(cfg); err != nil {
		fmt.Fprintf(stderr, "ezapi: %v\n", err)
		return exitFail
	}
	return exitOK
}

// Command ezapi is the control plane of the EZ-API gateway.
//
//	ezapi serve                  run the HTTP server (migrates first unless postgres.auto_migrate is false)
//	ezapi migrate up|down|status manage the database schema
//	ezapi admin bootstrap [--username NAME]  create the first admin operator
//	ezapi import FILE [--dry-run] import an EZ-Api/exporter file (New API / one-api)
//	ezapi secrets rotate         re-encrypt upstream keys under the newest key version
//	ezapi version                print build information
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ez-api/ez-api/internal/adapters/observability"
	"github.com/ez-api/ez-api/internal/app"
	"github.com/ez-api/ez-api/internal/core/domain"
	"github.com/ez-api/ez-api/internal/core/imports"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
	// exitNothingToDo: admin bootstrap found an admin already.
	exitNothingToDo = 3
)

const usage = `usage: ezapi <command>

commands:
  serve                    run the HTTP server
  migrate up|down|status   manage the database schema
  admin bootstrap [--username NAME]
                           create the first admin operator (username from
                           --username, else EZ_BOOTSTRAP_USERNAME, default "admin";
                           password from EZ_BOOTSTRAP_PASSWORD, at least 12
                           characters, else generated and printed once); exits 2
                           on an invalid username or password, 3 when an admin
                           already exists
  import FILE [--dry-run]  import an EZ-Api/exporter file (New API / one-api),
                           as POST /admin/import does; prints the report as JSON
  secrets rotate           re-encrypt every provider's upstream key under the
                           current crypto.key_version (idempotent)
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
			out := stderr
			if cfg.Logging.FlushInterval > 0 {
				// One write per batch of lines, not per request's access line.
				logs := observability.NewLogBuffer(stderr, cfg.Logging.FlushInterval)
				defer logs.Close() // after cleanup: the shutdown's own lines too
				out = logs
			}
			srv, cleanup, err := app.InitializeServer(cfg, out)
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
	case "admin":
		username, ok := bootstrapArgs(args[1:])
		if !ok {
			fmt.Fprint(stderr, "usage: ezapi admin bootstrap [--username NAME]  (or EZ_BOOTSTRAP_USERNAME; password from EZ_BOOTSTRAP_PASSWORD)\n")
			return exitConfig
		}
		return bootstrap(ctx, environ, username, stdout, stderr)
	case "import":
		return importFile(ctx, args[1:], environ, stdout, stderr)
	case "secrets":
		if len(args) != 2 || args[1] != "rotate" {
			fmt.Fprint(stderr, "usage: ezapi secrets rotate\n")
			return exitConfig
		}
		return withConfig(environ, stderr, func(cfg app.Config) error {
			adm, cleanup, err := app.InitializeAdmin(cfg, stderr)
			if err != nil {
				return err
			}
			defer cleanup()
			if cfg.Postgres.AutoMigrate {
				if _, err := adm.Migrator.Up(ctx); err != nil {
					return err
				}
			}
			n, err := adm.Providers.RotateSecrets(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "re-encrypted %d provider key(s) under key version %d\n", n, cfg.Crypto.KeyVersion)
			return nil
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

// bootstrapArgs parses "bootstrap [--username NAME | --username=NAME]".
func bootstrapArgs(args []string) (username string, ok bool) {
	if len(args) == 0 || args[0] != "bootstrap" {
		return "", false
	}
	rest := args[1:]
	switch {
	case len(rest) == 0:
		return "", true
	case len(rest) == 2 && (rest[0] == "--username" || rest[0] == "-username") && rest[1] != "":
		return rest[1], true
	case len(rest) == 1 && strings.HasPrefix(rest[0], "--username=") && len(rest[0]) > len("--username="):
		return strings.TrimPrefix(rest[0], "--username="), true
	}
	return "", false
}

// bootstrap creates the first admin operator, printing a generated password
// once. flagUsername (from --username) wins over EZ_BOOTSTRAP_USERNAME.
func bootstrap(ctx context.Context, environ []string, flagUsername string, stdout, stderr io.Writer) int {
	getenv := func(name string) string {
		for _, kv := range environ {
			if k, v, ok := strings.Cut(kv, "="); ok && k == name {
				return v
			}
		}
		return ""
	}
	username := flagUsername
	if username == "" {
		username = getenv("EZ_BOOTSTRAP_USERNAME")
	}
	if username == "" {
		username = "admin"
	}
	password := getenv("EZ_BOOTSTRAP_PASSWORD")
	generated := password == ""
	exists, invalid := false, false
	code := withConfig(environ, stderr, func(cfg app.Config) error {
		adm, cleanup, err := app.InitializeAdmin(cfg, stderr)
		if err != nil {
			return err
		}
		defer cleanup()
		if cfg.Postgres.AutoMigrate {
			if _, err := adm.Migrator.Up(ctx); err != nil {
				return err
			}
		}
		if generated {
			tok, err := domain.NewToken("")
			if err != nil {
				return err
			}
			password = tok.Plaintext[:24]
		}
		op, err := adm.Operators.Bootstrap(ctx, username, password)
		if errors.Is(err, domain.ErrConflict) {
			exists = true
			fmt.Fprintln(stderr, "ezapi: an admin operator already exists; nothing to do")
			return nil
		}
		if errors.Is(err, domain.ErrInvalid) {
			invalid = true // bad input, like a bad setting: exit 2
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created admin operator %q (id %d)\n", op.Username, op.ID)
		if generated {
			fmt.Fprintf(stdout, "password: %s\n(shown once: store it now; log in with POST /auth/login)\n", password)
		}
		return nil
	})
	switch {
	case code == exitOK && exists:
		return exitNothingToDo
	case code == exitFail && invalid:
		return exitConfig
	}
	return code
}

// importFile runs `ezapi import FILE [--dry-run]`: the same use-case as
// POST /admin/import, reporting as JSON on stdout.
func importFile(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	var path string
	dryRun := false
	for _, a := range args {
		switch {
		case a == "--dry-run":
			dryRun = true
		case path == "" && !strings.HasPrefix(a, "-"):
			path = a
		default:
			path = ""
			args = nil
		}
	}
	if path == "" || len(args) > 2 {
		fmt.Fprint(stderr, "usage: ezapi import FILE [--dry-run]\n")
		return exitConfig
	}
	body, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "ezapi: %v\n", err)
		return exitFail
	}
	f, err := imports.Parse(body)
	if err != nil {
		fmt.Fprintf(stderr, "ezapi: %s: %v\n", path, err)
		return exitFail
	}
	return withConfig(environ, stderr, func(cfg app.Config) error {
		adm, cleanup, err := app.InitializeAdmin(cfg, stderr)
		if err != nil {
			return err
		}
		defer cleanup()
		if cfg.Postgres.AutoMigrate {
			if _, err := adm.Migrator.Up(ctx); err != nil {
				return err
			}
		}
		rep, err := adm.Imports.Import(ctx, f, dryRun)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	})
}

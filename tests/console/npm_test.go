package console_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// webDir is the console's project, ../../web from this package.
func webDir(*testing.T) string { return project.Dir }

// installDeps installs web/'s pinned packages when needed (npmproject).
func installDeps(t *testing.T, _ string) { project.Install(t) }

// findChromium is Debian's Chromium (make test installs it through
// scripts/services.sh with EZ_SERVICES_CHROMIUM=1).
func findChromium(t *testing.T) string {
	t.Helper()
	const debian = "/usr/bin/chromium"
	if fi, err := os.Stat(debian); err == nil && !fi.IsDir() {
		return debian
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatalf("Chromium is not installed: run `EZ_SERVICES_CHROMIUM=1 scripts/services.sh` (Debian: apt-get install chromium)")
	return ""
}

// scratchProject copies the console's sources and configuration next to
// spec (as openapi.yaml), without the generated schema.d.ts.
func scratchProject(t *testing.T, _ string, spec []byte) string {
	t.Helper()
	scratch := project.Scratch(t, spec, "src", "package.json", "tsconfig.json", "vite.config.ts")
	_ = os.Remove(filepath.Join(scratch, "src", "schema.d.ts"))
	return scratch
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	return project.Run(t, dir, env, name, args...)
}

func command(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	return project.Command(t, dir, env, name, args...)
}

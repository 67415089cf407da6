//go:build unix

package npmproject

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// killGroupOnCancel runs cmd in a process group of its own and, when its
// context ends, kills the whole group: npm starts node, which starts more.
func killGroupOnCancel(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// lock holds an exclusive lock on the project's package.json until the test
// ends, so that two `go test` runs in one checkout do not reinstall
// node_modules or rewrite generated files under each other.
func (p *Project) lock(t *testing.T) {
	t.Helper()
	f, err := os.Open(filepath.Join(p.Dir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() }) // closing releases the lock
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			t.Fatalf("lock %s: %v", f.Name(), err)
		}
		if time.Now().After(p.deadline) {
			t.Fatalf("lock %s: another test run held it past the %s budget", f.Name(), p.Budget)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

//go:build !unix

package npmproject

import (
	"os/exec"
	"testing"
)

// killGroupOnCancel leaves the default: only cmd's own process is killed.
func killGroupOnCancel(*exec.Cmd) {}

// lock does nothing: concurrent runs in one checkout are not guarded.
func (p *Project) lock(*testing.T) {}

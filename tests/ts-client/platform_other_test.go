//go:build !unix

package tsclient_test

import (
	"os/exec"
	"testing"
)

// killGroupOnCancel leaves the default: only cmd's own process is killed.
func killGroupOnCancel(*exec.Cmd) {}

// lockProject does nothing: concurrent runs in one checkout are not guarded.
func lockProject(*testing.T, string) {}

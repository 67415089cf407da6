package fakes_test

import (
	"testing"

	"github.com/ez-api/ez-api/internal/ports"
	"github.com/ez-api/ez-api/internal/ports/fakes"
	"github.com/ez-api/ez-api/internal/ports/repotest"
)

func TestOperatorsFakeKeepsThePortContract(t *testing.T) {
	t.Parallel()
	repotest.OperatorRepository(t, func(*testing.T) ports.OperatorRepository { return fakes.NewOperators() })
}

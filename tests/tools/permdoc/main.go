// Command permdoc rewrites the operations table of docs/security.md from
// openapi.yaml (run by `make docs`; a contract test fails when it is stale).
package main

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/ez-api/ez-api/tests/testenv"
)

func main() {
	s, err := testenv.LoadSpec()
	if err != nil {
		panic(err)
	}
	var rows []string
	for _, p := range s.Paths.InMatchingOrder() {
		for m, op := range s.Paths.Value(p).Operations() {
			rows = append(rows, fmt.Sprintf("| `%s` | `%s %s` | `%s` |", op.OperationID, m, p, op.Extensions["x-permission"]))
		}
	}
	sort.Strings(rows)
	raw, _ := os.ReadFile("docs/security.md")
	doc := string(raw)
	start := strings.Index(doc, "<!-- permissions:begin -->")
	end := strings.Index(doc, "<!-- permissions:end -->")
	table := "<!-- permissions:begin -->\n| operation | route | permission |\n|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
	doc = doc[:start] + table + doc[end:]
	_ = os.WriteFile("docs/security.md", []byte(doc), 0o644)
}

package imports

import (
	"slices"
	"strings"

	"github.com/ez-api/ez-api/internal/core/domain"
)

// normNamespace is an exported namespace (a New API group name) as an ezapi
// namespace: trimmed and lower-cased; "" when it cannot be one.
func normNamespace(s string) string {
	n := strings.ToLower(strings.TrimSpace(s))
	if !domain.ValidNamespace(n) {
		return ""
	}
	return n
}

// masterNamespaces maps a master's namespaces and default namespace. A name
// that cannot be a namespace is kept as exported, so the master fails its
// validation and is skipped: dropping it could leave an empty list, which
// means every namespace. A default outside the list becomes the list's
// first entry, so the master is not widened to hold it.
func masterNamespaces(rec, name string, m Master, rep *Report) ([]string, string) {
	var ns []string
	for _, raw := range m.Namespaces {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		n := normNamespace(raw)
		if n == "" {
			n = raw // refused by the master's validation, reported as skipped
		} else if n != raw {
			rep.add(rec, name, OutcomeMapped, "namespace %q imported as %q", raw, n)
		}
		if !slices.Contains(ns, n) {
			ns = append(ns, n)
		}
	}
	def := strings.TrimSpace(m.DefaultNamespace)
	if def != "" {
		if n := normNamespace(def); n != "" {
			def = n
		}
	}
	switch {
	case def == "" && len(ns) > 0 && !slices.Contains(ns, domain.DefaultNamespace):
		def = ns[0]
		rep.add(rec, name, OutcomeMapped, "no default_namespace: %q, the first of its namespaces", def)
	case def != "" && len(ns) > 0 && !slices.Contains(ns, def):
		rep.add(rec, name, OutcomeMapped, "default_namespace %q is not one of its namespaces %s: %q used, "+
			"the master is not widened", m.DefaultNamespace, namespaceList(ns), ns[0])
		def = ns[0]
	}
	return ns, def
}

// keyNamespaces maps a key's namespaces inside its master's: a key may only
// narrow its master. Names the master does not have (or that cannot be
// namespaces) are dropped and reported; a key left with none is skipped,
// since an empty list would widen it to all of the master's namespaces. The
// default namespace is the master's when the key may use it, else the key's
// first namespace (as POST /keys decides).
func keyNamespaces(rec, name string, exported []string, m domain.Master, rep *Report) ([]string, string, bool) {
	var ns []string
	listed := false
	for _, raw := range exported {
		if strings.TrimSpace(raw) == "" {
			continue
		}
		listed = true
		n := normNamespace(raw)
		switch {
		case n == "":
			rep.add(rec, name, OutcomeMapped, "namespace %q is not a namespace name: dropped", raw)
		case len(m.Namespaces) > 0 && !slices.Contains(m.Namespaces, n):
			rep.add(rec, name, OutcomeMapped, "namespace %q is not one of master %q's namespaces %s: dropped "+
				"(a key only narrows its master)", raw, m.Name, namespaceList(m.Namespaces))
		case !slices.Contains(ns, n):
			ns = append(ns, n)
		}
	}
	if listed && len(ns) == 0 {
		rep.add(rec, name, OutcomeSkipped, "none of its namespaces is usable under master %q; imported without "+
			"any it would reach all of the master's namespaces", m.Name)
		return nil, "", false
	}
	allowed := ns
	if len(allowed) == 0 {
		allowed = m.Namespaces
	}
	def := m.DefaultNamespace
	if def == "" {
		def = domain.DefaultNamespace
	}
	if len(allowed) > 0 && !slices.Contains(allowed, def) {
		def = allowed[0]
	}
	return ns, def, true
}

// namespaceList shows a namespace list in a report ("all" when empty).
func namespaceList(ns []string) string {
	if len(ns) == 0 {
		return "all"
	}
	return "[" + strings.Join(ns, ", ") + "]"
}

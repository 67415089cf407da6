package routing

import (
	"regexp"
	"sync"
)

// maxCompiled bounds the compiled selectors kept; past it the cache starts
// over (selectors are few and change rarely, so this is the rare case).
const maxCompiled = 4096

// compileCache keeps each regex selector compiled once (and checked against
// the complexity bound once) across builds and deltas: a provider change
// checks every binding routing to its group against its models (and
// re-resolves those it hits), and recompiling each of their patterns every
// time would cost more than matching them. A
// *regexp.Regexp is safe for concurrent use.
type compileCache struct {
	mu sync.Mutex
	m  map[string]compiledSelector
}

type compiledSelector struct {
	re  *regexp.Regexp
	err error
}

var compiled = &compileCache{m: map[string]compiledSelector{}}

func (c *compileCache) get(value string) (*regexp.Regexp, error) {
	c.mu.Lock()
	e, ok := c.m[value]
	c.mu.Unlock()
	if ok {
		return e.re, e.err
	}
	re, err := compile(value)
	c.mu.Lock()
	if len(c.m) >= maxCompiled {
		c.m = map[string]compiledSelector{}
	}
	c.m[value] = compiledSelector{re: re, err: err}
	c.mu.Unlock()
	return re, err
}

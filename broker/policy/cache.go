package policy

import (
	"encoding/json"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// DefaultCacheSize bounds the decision cache.
const DefaultCacheSize = 4096

// decisionCache remembers decisions of a deterministic policy set by the
// exact input they were made for. A decision is a pure function of input,
// data and policy when no rule calls a non-deterministic builtin
// (time.now_ns, http.send, rand.intn, ...), and an engine is immutable, so
// an entry can never go stale: a reload builds a new engine with an empty
// cache. Only well-formed decisions are cached, never failures. When full
// it is emptied, so unique inputs cost memory only up to the bound.
type decisionCache struct {
	mu  sync.RWMutex
	m   map[string]cachedDecision
	max int
}

type cachedDecision struct {
	allow   bool
	reasons []string
}

func newDecisionCache(max int) *decisionCache {
	return &decisionCache{m: make(map[string]cachedDecision, min(max, 256)), max: max}
}

// key is the input's canonical JSON (struct fields in order, map keys
// sorted).
func cacheKey(in *Input) (string, bool) {
	b, err := json.Marshal(in)
	if err != nil {
		return "", false
	}
	return string(b), true
}

func (c *decisionCache) get(key string) (cachedDecision, bool) {
	c.mu.RLock()
	d, ok := c.m[key]
	c.mu.RUnlock()
	return d, ok
}

func (c *decisionCache) put(key string, d cachedDecision) {
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[key] = d
	c.mu.Unlock()
}

// nondeterministic names the first non-deterministic builtin the modules
// call, or "" when they call none.
func nondeterministic(modules map[string]*ast.Module) string {
	found := ""
	check := func(name string) {
		if b, ok := ast.BuiltinMap[name]; ok && b.Nondeterministic && found == "" {
			found = name
		}
	}
	for _, m := range modules {
		ast.WalkExprs(m, func(e *ast.Expr) bool {
			if e.IsCall() {
				check(e.Operator().String())
			}
			return found != ""
		})
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if call, ok := t.Value.(ast.Call); ok && len(call) > 0 {
				check(call[0].String())
			}
			return found != ""
		})
	}
	return found
}

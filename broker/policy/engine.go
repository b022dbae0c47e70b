// Package policy is clawbroker's embedded OPA engine: it loads the Rego
// policies (from a directory or the copy built into the binary), compiles
// and prepares data.clawbroker.authz.decision once, evaluates it per
// request with a deadline, fails closed on every error, and hot-reloads by
// building a new engine off to the side and swapping one pointer.
package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/clawbroker/clawbroker/policies"
)

// Query is the one rule the broker asks.
const Query = "data.clawbroker.authz.decision"

// DecisionPath names the query the way OPA decision logs do.
const DecisionPath = "clawbroker/authz/decision"

// DefaultTimeout bounds one evaluation.
const DefaultTimeout = 100 * time.Millisecond

// Sentinel errors. Every one of them means the decision was a deny.
var (
	ErrEvaluation = errors.New("policy evaluation failed")
	ErrTimeout    = errors.New("policy evaluation timed out")
	ErrUndefined  = errors.New("policy decision is undefined")
	ErrMalformed  = errors.New("policy decision is malformed")
	ErrLoad       = errors.New("policies do not load")
)

// Decision is the answer to one input.
type Decision struct {
	ID       string   `json:"decision_id"`
	Allow    bool     `json:"allow"`
	Reasons  []string `json:"reasons"`
	Revision string   `json:"-"`
	// EvalTime is the time spent in OPA's evaluation (zero when Cached).
	EvalTime time.Duration `json:"-"`
	// Cached says the same input was decided before by this very engine
	// (same policies, same data), so OPA was not asked again.
	Cached bool `json:"-"`
}

// Options say what an engine is built from.
type Options struct {
	// Dir is a directory of .rego files; empty means Modules, and when that
	// is empty too, the policies built into the binary.
	Dir string
	// Modules maps file names to Rego source, for tests and benchmarks.
	Modules map[string]string
	// Data is placed at data.clawbroker.config.
	Data map[string]any
	// Timeout bounds each evaluation; zero means DefaultTimeout.
	Timeout time.Duration
	// CacheSize bounds the decision cache; zero means DefaultCacheSize and
	// a negative value turns the cache off. Policies that call a
	// non-deterministic builtin are never cached.
	CacheSize int
}

// Engine is a compiled, prepared policy set. It is immutable and safe for
// concurrent use.
type Engine struct {
	query    rego.PreparedEvalQuery
	revision string
	timeout  time.Duration
	files    []string
	cache    *decisionCache // nil: not cached
	// uncached says why decisions are not cached, when they are not.
	uncached string
}

// New loads, compiles and prepares the policies, then runs a smoke decision:
// an engine that cannot answer a simple input well-formed is not returned.
func New(ctx context.Context, opts Options) (*Engine, error) {
	modules, err := loadModules(opts)
	if err != nil {
		return nil, err
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("%w: no .rego files found in %s", ErrLoad, sourceName(opts))
	}
	data := map[string]any{"clawbroker": map[string]any{"config": opts.Data}}
	rev, err := revision(modules, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLoad, err)
	}
	// Round-trip the data so the store holds plain JSON values only.
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("%w: config data: %w", ErrLoad, err)
	}
	var plain map[string]any
	if err := json.Unmarshal(raw, &plain); err != nil {
		return nil, fmt.Errorf("%w: config data: %w", ErrLoad, err)
	}
	regoOpts := []func(*rego.Rego){
		rego.Query(Query),
		rego.Store(inmem.NewFromObjectWithOpts(plain, inmem.OptReturnASTValuesOnRead(true))),
		rego.StrictBuiltinErrors(true),
		rego.SetRegoVersion(ast.RegoV1),
	}
	names := make([]string, 0, len(modules))
	for name := range modules {
		names = append(names, name)
	}
	sort.Strings(names)
	parsed := make(map[string]*ast.Module, len(modules))
	for _, name := range names {
		m, err := ast.ParseModuleWithOpts(name, modules[name], ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrLoad, err)
		}
		parsed[name] = m
		regoOpts = append(regoOpts, rego.ParsedModule(m))
	}
	pq, err := rego.New(regoOpts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrLoad, sourceName(opts), err)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// The smoke decision is the first evaluation (cold caches), not a
	// request, so it gets a generous deadline.
	smoke := &Engine{query: pq, revision: rev, timeout: max(timeout, 10*time.Second), files: names}
	if _, err := smoke.Decide(ctx, smokeInput); err != nil {
		return nil, fmt.Errorf("%w: %s: smoke decision: %w", ErrLoad, sourceName(opts), err)
	}
	e := &Engine{query: pq, revision: rev, timeout: timeout, files: names}
	switch nd := nondeterministic(parsed); {
	case opts.CacheSize < 0:
		e.uncached = "turned off"
	case nd != "":
		e.uncached = "the policies call " + nd + ", which is not deterministic"
	default:
		size := opts.CacheSize
		if size == 0 {
			size = DefaultCacheSize
		}
		e.cache = newDecisionCache(size)
	}
	return e, nil
}

// smokeInput must get a well-formed decision from any usable policy set.
var smokeInput = Input{
	Action:  ActionPathRead,
	Subject: &Subject{Agent: "clawbroker-smoke-test"},
	Path:    &PathInput{Requested: "/", Resolved: "/", Ancestors: []string{"/"}},
}

// Caching says whether decisions are cached, and if not, why.
func (e *Engine) Caching() (bool, string) { return e.cache != nil, e.uncached }

// Revision identifies the loaded policy files and data.
func (e *Engine) Revision() string { return e.revision }

// Files lists the loaded module names.
func (e *Engine) Files() []string { return append([]string(nil), e.files...) }

// Decide evaluates one input. It always returns a decision; when err is
// non-nil (wrapping ErrEvaluation, ErrTimeout, ErrUndefined or
// ErrMalformed) the decision is a deny whose reason says why.
func (e *Engine) Decide(ctx context.Context, in Input) (Decision, error) {
	id, err := uuid.NewRandom()
	if err != nil {
		return Decision{Reasons: []string{"decision id could not be generated"}, Revision: e.revision},
			fmt.Errorf("%w: %w", ErrEvaluation, err)
	}
	d := Decision{ID: id.String(), Revision: e.revision}
	if err := ctx.Err(); err != nil {
		return deny(d, "the request was cancelled before the policy was asked"), fmt.Errorf("%w: %w", ErrEvaluation, err)
	}
	var key string
	if e.cache != nil {
		var ok bool
		if key, ok = cacheKey(&in); ok {
			if c, hit := e.cache.get(key); hit {
				d.Allow, d.Reasons, d.Cached = c.allow, append([]string(nil), c.reasons...), true
				return d, nil
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	start := time.Now()
	rs, err := e.query.Eval(ctx, rego.EvalParsedInput(in.value()))
	d.EvalTime = time.Since(start)
	if err != nil {
		if ctx.Err() != nil {
			return deny(d, fmt.Sprintf("policy evaluation exceeded %s and was stopped", e.timeout)), fmt.Errorf("%w after %s: %w", ErrTimeout, e.timeout, err)
		}
		return deny(d, "policy evaluation failed: "+firstLine(err.Error())), fmt.Errorf("%w: %w", ErrEvaluation, err)
	}
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return deny(d, "no policy decision: "+Query+" is undefined"), ErrUndefined
	}
	allow, reasons, err := parseDecision(rs[0].Expressions[0].Value)
	if err != nil {
		return deny(d, "policy returned a malformed decision: "+err.Error()), fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	d.Allow, d.Reasons = allow, reasons
	if key != "" {
		e.cache.put(key, cachedDecision{allow: allow, reasons: append([]string(nil), reasons...)})
	}
	return d, nil
}

func deny(d Decision, reason string) Decision {
	d.Allow = false
	d.Reasons = []string{reason}
	return d
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// parseDecision accepts exactly {"allow": bool, "reasons": [string...]}.
func parseDecision(v any) (bool, []string, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return false, nil, fmt.Errorf("want an object with allow and reasons, got %T", v)
	}
	allow, ok := obj["allow"].(bool)
	if !ok {
		return false, nil, errors.New(`"allow" must be a boolean`)
	}
	rawReasons, ok := obj["reasons"].([]any)
	if !ok {
		return false, nil, errors.New(`"reasons" must be an array of strings`)
	}
	reasons := make([]string, len(rawReasons))
	for i, r := range rawReasons {
		s, ok := r.(string)
		if !ok {
			return false, nil, fmt.Errorf(`"reasons"[%d] must be a string`, i)
		}
		reasons[i] = s
	}
	if !allow && len(reasons) == 0 {
		reasons = []string{"denied by policy (no reason given)"}
	}
	return allow, reasons, nil
}

func sourceName(opts Options) string {
	switch {
	case opts.Dir != "":
		return opts.Dir
	case len(opts.Modules) > 0:
		return "the given modules"
	}
	return "the built-in policies"
}

// loadModules reads every .rego file except *_test.rego.
func loadModules(opts Options) (map[string]string, error) {
	if opts.Dir == "" && len(opts.Modules) > 0 {
		return opts.Modules, nil
	}
	var fsys fs.FS = policies.FS
	prefix := "builtin:"
	if opts.Dir != "" {
		info, err := os.Stat(opts.Dir)
		if err != nil {
			return nil, fmt.Errorf("%w: policy directory: %w", ErrLoad, err)
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("%w: policy directory %s is not a directory", ErrLoad, opts.Dir)
		}
		fsys = os.DirFS(opts.Dir)
		prefix = opts.Dir + string(filepath.Separator)
	}
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || path.Ext(p) != ".rego" || strings.HasSuffix(p, "_test.rego") {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		out[prefix+filepath.FromSlash(p)] = string(src)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLoad, err)
	}
	return out, nil
}

// revision hashes the module sources and the data document.
func revision(modules map[string]string, data map[string]any) (string, error) {
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%d:%s%d:%s", len(n), n, len(modules[n]), modules[n])
	}
	raw, err := json.Marshal(data) // map keys are sorted: stable
	if err != nil {
		return "", err
	}
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

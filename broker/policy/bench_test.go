package policy_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clawbroker/clawbroker/broker/config"
	"github.com/clawbroker/clawbroker/broker/policy"
)

const trivialModule = `package clawbroker.authz

decision := {"allow": true, "reasons": []}
`

// benchConfig is a config with n denied paths and 50 tools.
func benchConfig(tb testing.TB, deniedPaths int) *config.Config {
	tb.Helper()
	var sb strings.Builder
	sb.WriteString(`{workspace: {path: "/srv/bench/workspace", allowed_paths: ["/srv/bench/projects"], denied_paths: [`)
	for i := range deniedPaths {
		fmt.Fprintf(&sb, "%q,", fmt.Sprintf("/srv/bench/secret-%05d", i))
	}
	sb.WriteString(`]}, tools: {`)
	var names []string
	for i := range 50 {
		name := fmt.Sprintf("tool%02d", i)
		names = append(names, fmt.Sprintf("%q", name))
		fmt.Fprintf(&sb, `%s: {command: "/usr/bin/%s", capabilities: [{type: "file_read", paths: ["$WORKSPACE"]}]},`, name, name)
	}
	sb.WriteString(`}, agents: {bench: {tools: [` + strings.Join(names, ",") + `]}}}`)
	c, err := config.Parse("/srv/bench/clawbroker.json5", []byte(sb.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

var readInput = policy.Input{
	Action:  policy.ActionPathRead,
	Subject: &policy.Subject{Agent: "bench"},
	Path: &policy.PathInput{
		Requested: "src/main.go",
		Resolved:  "/srv/bench/workspace/src/main.go",
		Ancestors: policy.Ancestors("/srv/bench/workspace/src/main.go"),
	},
}

func engineFor(tb testing.TB, opts policy.Options) *policy.Engine {
	tb.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = time.Minute // a benchmark measures; it does not fail closed
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = -1 // measure evaluation, not the decision cache
	}
	e, err := policy.New(context.Background(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func benchDecide(e *policy.Engine, in policy.Input, wantAllow bool) func(b *testing.B) {
	return func(b *testing.B) {
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			d, err := e.Decide(ctx, in)
			if err != nil || d.Allow != wantAllow {
				b.Fatalf("decision = %+v, %v; want allow=%v", d, err, wantAllow)
			}
		}
	}
}

func BenchmarkDecide(b *testing.B) {
	b.Run("trivial", benchDecide(engineFor(b, policy.Options{Modules: map[string]string{"t.rego": trivialModule}}), readInput, true))
	for _, n := range []int{10, 1000, 10000} {
		e := engineFor(b, policy.Options{Data: benchConfig(b, n).PolicyData()})
		b.Run(fmt.Sprintf("shipped/path.read/denied=%d", n), benchDecide(e, readInput, true))
	}
	e := engineFor(b, policy.Options{Data: benchConfig(b, 1000).PolicyData()})
	exec := policy.Input{Action: policy.ActionToolExec, Subject: &policy.Subject{Agent: "bench"}, Tool: &policy.ToolInput{
		Name: "tool07", Command: "/usr/bin/tool07", Argv: []string{"--verbose", "src"}, Cwd: "/srv/bench/workspace",
		Capabilities: []policy.Capability{{Type: "file_read", Paths: []string{"/srv/bench/workspace"}}},
	}}
	b.Run("shipped/tool.exec/tools=50", benchDecide(e, exec, true))
	cached := engineFor(b, policy.Options{Data: benchConfig(b, 1000).PolicyData(), CacheSize: policy.DefaultCacheSize})
	b.Run("shipped/tool.exec/cached", benchDecide(cached, exec, true))
}

// BenchmarkDecideRatios measures the targets in one run, interleaving
// rounds so machine noise hits every configuration alike, and reports
// median ratios: shipped/trivial (target <= 4) and 10,000 denied paths
// over 10 (target <= 1.5).
func BenchmarkDecideRatios(b *testing.B) {
	engines := []struct {
		name string
		e    *policy.Engine
	}{
		{"trivial", engineFor(b, policy.Options{Modules: map[string]string{"t.rego": trivialModule}})},
		{"shipped-10", engineFor(b, policy.Options{Data: benchConfig(b, 10).PolicyData()})},
		{"shipped-10000", engineFor(b, policy.Options{Data: benchConfig(b, 10000).PolicyData()})},
	}
	ratios := sync.OnceValue(func() map[string]float64 {
		ctx := context.Background()
		samples := map[string][]float64{}
		for range 15 {
			for _, c := range engines {
				// A round is a fixed slice of time of back-to-back decisions.
				n, start := 0, time.Now()
				for time.Since(start) < 100*time.Millisecond {
					if d, err := c.e.Decide(ctx, readInput); err != nil || !d.Allow {
						b.Fatalf("%s: decision %+v, %v", c.name, d, err)
					}
					n++
				}
				samples[c.name] = append(samples[c.name], float64(time.Since(start).Nanoseconds())/float64(n))
			}
		}
		med := map[string]float64{}
		for k, v := range samples {
			sort.Float64s(v)
			med[k] = v[len(v)/2]
		}
		fmt.Printf("decide medians: trivial %.0f ns, shipped(10 paths) %.0f ns, shipped(10,000 paths) %.0f ns\n",
			med["trivial"], med["shipped-10"], med["shipped-10000"])
		fmt.Printf("ratio shipped/trivial = %.2fx (target <= 4x); 10,000/10 paths = %.2fx (target <= 1.5x)\n",
			med["shipped-10"]/med["trivial"], med["shipped-10000"]/med["shipped-10"])
		return map[string]float64{
			"shipped/trivial": med["shipped-10"] / med["trivial"],
			"10k/10-paths":    med["shipped-10000"] / med["shipped-10"],
		}
	})
	r := ratios()
	for b.Loop() {
	}
	b.ReportMetric(r["shipped/trivial"], "shipped/trivial")
	b.ReportMetric(r["10k/10-paths"], "10k/10-paths")
}

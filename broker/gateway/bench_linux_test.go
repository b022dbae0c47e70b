package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/clawbroker/clawbroker/broker"
	"github.com/clawbroker/clawbroker/broker/config"
	"github.com/clawbroker/clawbroker/sandbox"
)

// The benchmarks below compare the gateway with the obvious alternatives
// on this machine, in one run, with the same load generator:
//
//   - POST /v1/decide (auth, rate limit, audit to a file) against
//     `opa run --server` serving the same policies and data document;
//   - POST /v1/exec of /bin/true against bare bwrap with the launcher's
//     arguments and seccomp filter (sandbox.BwrapCommand);
//   - the process's RSS idle and under 200 concurrent clients.
//
// With CLAWBROKER_BENCH_WRITE set (make bench sets it), TestMain writes the
// results table to that file (relative paths are taken from the module
// root).

// benchResults collects the rows every benchmark contributes.
var benchResults struct {
	mu   sync.Mutex
	rows map[string][]string // section -> markdown rows
	keys map[string][]string // section -> row keys, in order
}

// addResult sets the row named key of a section. A benchmark may run more
// than once (b.N ramp-up): the last run's row wins.
func addResult(section, key, row string) {
	benchResults.mu.Lock()
	defer benchResults.mu.Unlock()
	if benchResults.rows == nil {
		benchResults.rows = map[string][]string{}
		benchResults.keys = map[string][]string{}
	}
	if i := slices.Index(benchResults.keys[section], key); i >= 0 {
		benchResults.rows[section][i] = row
		return
	}
	benchResults.keys[section] = append(benchResults.keys[section], key)
	benchResults.rows[section] = append(benchResults.rows[section], row)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if path := os.Getenv("CLAWBROKER_BENCH_WRITE"); path != "" && code == 0 && len(benchResults.rows) > 0 {
		if err := writeBenchmarks(path); err != nil {
			fmt.Fprintf(os.Stderr, "CLAWBROKER_BENCH_WRITE: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// moduleRoot walks up from the package directory to go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func writeBenchmarks(path string) error {
	if !filepath.IsAbs(path) {
		root, err := moduleRoot()
		if err != nil {
			return err
		}
		path = filepath.Join(root, path)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# clawbroker benchmarks\n\n")
	fmt.Fprintf(&b, "Written by `make bench` (broker/gateway/bench_linux_test.go) from one run; do not edit by hand.\n\n")
	fmt.Fprintf(&b, "- date: %s\n- machine: %d CPUs (`nproc`), %s\n- Go: %s %s/%s\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 MST"), runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	sections := []struct{ key, title, header string }{
		{"decide", "## POST /v1/decide vs `opa run --server`",
			"Same policies and data document, same inputs (a mix of allowed and denied path.read, path.write, tool.exec and credential.read), same in-process load generator. The gateway authenticates, rate-limits (limit set very high) and writes every decision to a hash-chained audit file; OPA runs with decision logging off. Targets: gateway throughput >= 1.5x OPA's, p99 no worse.\n\n| server | requests | clients | req/s | p50 | p99 |\n|---|---|---|---|---|---|\n"},
		{"decide-ratio", "", ""},
		{"exec", "## POST /v1/exec of /bin/true vs bare bwrap",
			"Sequential runs, interleaved. Bare bwrap is `sandbox.BwrapCommand` for the Spec the broker builds for the tool: the launcher's exact argv (namespaces, mounts, environment) and seccomp filter, without its cgroup setup, limits or info/block handshake; the command is built before the clock starts. The gateway side adds HTTP, authentication, the policy decision, two audit records, the cgroup and the handshake. Target: gateway/bwrap <= 1.15x.\n\n| path | runs | median | p90 |\n|---|---|---|---|\n"},
		{"exec-ratio", "", ""},
		{"rss", "## Memory (RSS of the test process: gateway, broker and load generator together)",
			"| state | VmRSS | VmHWM |\n|---|---|---|\n"},
	}
	for _, s := range sections {
		rows := benchResults.rows[s.key]
		if len(rows) == 0 {
			continue
		}
		if s.title != "" {
			fmt.Fprintf(&b, "%s\n\n%s", s.title, s.header)
		}
		for _, r := range rows {
			b.WriteString(r + "\n")
		}
		b.WriteString("\n")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// loadResult is one load-generator run.
type loadResult struct {
	n       int
	elapsed time.Duration
	lat     []time.Duration // sorted
	errors  int
}

func (r loadResult) rps() float64 { return float64(r.n) / r.elapsed.Seconds() }

func (r loadResult) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(p * float64(len(r.lat)-1))
	return r.lat[i]
}

// runLoad sends n requests from clients goroutines, request i built by
// mk(i), and measures each round trip. A response whose status is not
// wantStatus counts as an error.
func runLoad(client *http.Client, n, clients int, wantStatus int, mk func(i int) *http.Request) loadResult {
	var wg sync.WaitGroup
	lats := make([][]time.Duration, clients)
	errs := make([]int, clients)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	start := time.Now()
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req := mk(i)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					errs[w]++
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lats[w] = append(lats[w], time.Since(t0))
				if resp.StatusCode != wantStatus {
					errs[w]++
				}
			}
		}()
	}
	wg.Wait()
	res := loadResult{n: n, elapsed: time.Since(start)}
	for w := range clients {
		res.lat = append(res.lat, lats[w]...)
		res.errors += errs[w]
	}
	slices.Sort(res.lat)
	return res
}

// opaBinary returns the opa CLI from go.mod's tool directive, built once.
func opaBinary(b testing.TB) string {
	b.Helper()
	out, err := exec.Command("go", "tool", "-n", "opa").Output()
	if p := strings.TrimSpace(string(out)); err == nil && p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	bin := filepath.Join(b.TempDir(), "opa")
	build := exec.Command("go", "build", "-o", bin, "github.com/open-policy-agent/opa")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build opa: %v\n%s", err, out)
	}
	return bin
}

// startOPA serves the repository's policies and the config's data document
// with `opa run --server` on a free loopback port.
func startOPA(b testing.TB, e *env) string {
	b.Helper()
	root, err := moduleRoot()
	if err != nil {
		b.Fatal(err)
	}
	data, err := json.Marshal(map[string]any{"clawbroker": map[string]any{"config": e.cfg.PolicyData()}})
	if err != nil {
		b.Fatal(err)
	}
	dataFile := filepath.Join(b.TempDir(), "data.json")
	if err := os.WriteFile(dataFile, data, 0o600); err != nil {
		b.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(b))
	cmd := exec.Command(opaBinary(b), "run", "--server", "--addr", addr, "--log-level", "error",
		"--disable-telemetry", filepath.Join(root, "policies"), dataFile)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	ok := waitFor(30*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	if !ok {
		b.Fatalf("opa did not become healthy: %s", out.String())
	}
	return "http://" + addr
}

// benchInputs are the /v1/decide bodies both servers are driven with.
func benchInputs(e *env) []map[string]any {
	return []map[string]any{
		{"action": "path.read", "path": map[string]any{"requested": "hello.txt"}},
		{"action": "path.read", "path": map[string]any{"requested": filepath.Join(e.home, ".ssh", "id_rsa")}},
		{"action": "path.write", "path": map[string]any{"requested": "src/main.go"}},
		{"action": "path.write", "path": map[string]any{"requested": ".git/hooks/pre-commit"}},
		{"action": "tool.exec", "tool": map[string]any{"name": "t-echo", "argv": []string{"hello"}}},
		{"action": "tool.exec", "tool": map[string]any{"name": "t-cat", "argv": []string{"-n", "notes.txt"}}},
		{"action": "credential.read", "credential": map[string]any{"provider": "github"}},
		{"action": "credential.read", "credential": map[string]any{"provider": "aws"}},
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// procStatus reads VmRSS and VmHWM (kB) from /proc/self/status.
func procStatus(b testing.TB) (rss, hwm int) {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	return rss, hwm
}

// BenchmarkRSS reports the process's memory idle and under 200 concurrent
// clients. It runs first in this file so VmHWM is not inflated by the
// other benchmarks.
// rssRecorded is set once the first BenchmarkRSS round wrote its rows.
var rssRecorded atomic.Bool

func BenchmarkRSS(b *testing.B) {
	requireTools(b, "bwrap")
	e := newEnv(b, envOptions{noCredentials: true})
	body, _ := json.Marshal(map[string]any{"action": "path.read", "path": map[string]any{"requested": "hello.txt"}})
	r := e.do("POST", "/v1/decide", tokenCI, body)
	if r.status != 200 {
		b.Fatalf("got %d", r.status)
	}
	runtime.GC()
	time.Sleep(200 * time.Millisecond)
	idleRSS, idleHWM := procStatus(b)

	const clients = 200
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	stop := make(chan struct{})
	var peak int
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		for {
			if rss, _ := procStatus(b); rss > peak {
				peak = rss
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	b.ResetTimer()
	res := runLoad(client, max(b.N, clients*25), clients, 200, func(int) *http.Request {
		req, _ := http.NewRequest("POST", e.base+"/v1/decide", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokenCI)
		req.Header.Set("Content-Type", "application/json")
		return req
	})
	b.StopTimer()
	close(stop)
	sampler.Wait()
	if res.errors > 0 {
		b.Fatalf("got %d errors under load", res.errors)
	}
	_, hwm := procStatus(b)
	b.ReportMetric(float64(idleRSS)/1024, "idle-RSS-MiB")
	b.ReportMetric(float64(peak)/1024, "load-RSS-MiB")
	b.ReportMetric(float64(hwm)/1024, "HWM-MiB")
	b.Logf("idle VmRSS %d kB (HWM %d kB); under %d clients (%d requests, %.0f req/s) peak VmRSS %d kB, VmHWM %d kB",
		idleRSS, idleHWM, clients, res.n, res.rps(), peak, hwm)
	// Only the first round's idle reading is idle: later rounds run in a
	// process that already served earlier rounds' load.
	if rssRecorded.Swap(true) {
		return
	}
	addResult("rss", "idle", fmt.Sprintf("| idle (after start and one decision) | %.1f MiB | %.1f MiB |", float64(idleRSS)/1024, float64(idleHWM)/1024))
	addResult("rss", "load", fmt.Sprintf("| %d concurrent clients, %d decisions (%.0f req/s) | %.1f MiB (peak sampled) | %.1f MiB |", clients, res.n, res.rps(), float64(peak)/1024, float64(hwm)/1024))
}

// BenchmarkDecideVsOPA drives /v1/decide and OPA's REST API with the same
// load and reports both throughputs, latencies and their ratio.
// BenchmarkDecideVsOPA runs twice: with the decision cache (the default
// config; the inputs repeat, so most decisions are cache hits) and with it
// off (every request evaluated, as OPA does).
func BenchmarkDecideVsOPA(b *testing.B) {
	b.Run("cache=on", func(b *testing.B) { decideVsOPA(b, true) })
	b.Run("cache=off", func(b *testing.B) { decideVsOPA(b, false) })
}

func decideVsOPA(b *testing.B, cache bool) {
	requireTools(b, "bwrap")
	e := newEnv(b, envOptions{noCredentials: true, noDecisionCache: !cache})
	label := "decision cache off"
	if cache {
		label = "decision cache on"
	}
	opa := startOPA(b, e)
	inputs := benchInputs(e)

	// Learn the filled input the broker evaluates for each body from the
	// audit log, so OPA evaluates the very same documents; and check that
	// both give the same decisions.
	gwBodies := make([][]byte, len(inputs))
	opaBodies := make([][]byte, len(inputs))
	for i, in := range inputs {
		before := len(e.auditLines())
		r := e.do("POST", "/v1/decide", tokenCI, in)
		if r.status != 200 {
			b.Fatalf("decide %v: got %d %s", in, r.status, r.body)
		}
		var gw struct{ Allow bool }
		r.decode(b, &gw)
		lines := e.auditLines()[before:]
		if len(lines) != 1 {
			b.Fatalf("got %d audit lines for one decision", len(lines))
		}
		gwBodies[i], _ = json.Marshal(in)
		opaBodies[i], _ = json.Marshal(map[string]any{"input": lines[0]["input"]})
		resp, err := http.Post(opa+"/v1/data/clawbroker/authz/decision", "application/json", bytes.NewReader(opaBodies[i]))
		if err != nil {
			b.Fatal(err)
		}
		var od struct {
			Result struct{ Allow bool } `json:"result"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&od)
		resp.Body.Close()
		if od.Result.Allow != gw.Allow {
			b.Fatalf("input %d: gateway allow %v, opa allow %v: not the same policy", i, gw.Allow, od.Result.Allow)
		}
	}
	e.mu.Lock()
	e.bodies = nil
	e.mu.Unlock()

	n := envInt("CLAWBROKER_BENCH_REQUESTS", 20000)
	clients := envInt("CLAWBROKER_BENCH_CLIENTS", 32)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
	gwReq := func(i int) *http.Request {
		req, _ := http.NewRequest("POST", e.base+"/v1/decide", bytes.NewReader(gwBodies[i%len(gwBodies)]))
		req.Header.Set("Authorization", "Bearer "+tokenCI)
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	opaReq := func(i int) *http.Request {
		req, _ := http.NewRequest("POST", opa+"/v1/data/clawbroker/authz/decision", bytes.NewReader(opaBodies[i%len(opaBodies)]))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	// Warm both up, then measure in alternating rounds.
	runLoad(client, 1000, clients, 200, gwReq)
	runLoad(client, 1000, clients, 200, opaReq)
	b.ResetTimer()
	var gw, op loadResult
	for round := 0; round < 2; round++ {
		g := runLoad(client, n/2, clients, 200, gwReq)
		o := runLoad(client, n/2, clients, 200, opaReq)
		gw = mergeLoad(gw, g)
		op = mergeLoad(op, o)
	}
	b.StopTimer()
	if gw.errors > 0 || op.errors > 0 {
		b.Fatalf("got %d gateway and %d opa errors, want none", gw.errors, op.errors)
	}
	ratio := gw.rps() / op.rps()
	b.ReportMetric(gw.rps(), "gateway-req/s")
	b.ReportMetric(op.rps(), "opa-req/s")
	b.ReportMetric(ratio, "gateway/opa-throughput")
	b.ReportMetric(float64(gw.pct(0.99).Microseconds()), "gateway-p99-us")
	b.ReportMetric(float64(op.pct(0.99).Microseconds()), "opa-p99-us")
	b.Logf("gateway %.0f req/s p50 %v p99 %v; opa %.0f req/s p50 %v p99 %v; throughput ratio %.2fx (target >= 1.5x), p99 ratio %.2f (target <= 1)",
		gw.rps(), gw.pct(0.5), gw.pct(0.99), op.rps(), op.pct(0.5), op.pct(0.99), ratio, float64(gw.pct(0.99))/float64(op.pct(0.99)))
	addResult("decide", "gateway-"+label, fmt.Sprintf("| clawbroker gateway (%s) | %d | %d | %.0f | %v | %v |", label, gw.n, clients, gw.rps(), gw.pct(0.5).Round(time.Microsecond), gw.pct(0.99).Round(time.Microsecond)))
	addResult("decide", "opa-"+label, fmt.Sprintf("| opa run --server (vs %s) | %d | %d | %.0f | %v | %v |", label, op.n, clients, op.rps(), op.pct(0.5).Round(time.Microsecond), op.pct(0.99).Round(time.Microsecond)))
	addResult("decide-ratio", "ratio-"+label, fmt.Sprintf("With the %s: throughput gateway/OPA **%.2fx** (target >= 1.5x: %s); p99 gateway/OPA **%.2f** (target <= 1: %s).\n",
		label, ratio, verdict(ratio >= 1.5), float64(gw.pct(0.99))/float64(op.pct(0.99)), verdict(gw.pct(0.99) <= op.pct(0.99))))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// mergeLoad adds two runs of the same side together.
func mergeLoad(a, b loadResult) loadResult {
	out := loadResult{n: a.n + b.n, elapsed: a.elapsed + b.elapsed, errors: a.errors + b.errors}
	out.lat = append(append([]time.Duration(nil), a.lat...), b.lat...)
	slices.Sort(out.lat)
	return out
}

// brokerSpec is the sandbox.Spec broker.Exec builds for a run of tool
// with no arguments, stdin or env in cwd (resolved): the environment from
// baseEnv, the tool's file and network capabilities, cwd read-only unless
// a capability covers it, and the configured limits.
func brokerSpec(b testing.TB, cfg *config.Config, tool, cwd string) sandbox.Spec {
	b.Helper()
	tc, ok := cfg.Tools[tool]
	if !ok {
		b.Fatalf("tool %q is not in the test config", tool)
	}
	return broker.ToolSpec(cfg, tc, nil, cwd)
}

// BenchmarkExecVsBwrap runs /bin/true through POST /v1/exec and through
// bare bwrap, interleaved, and reports the ratio of the medians. The bare
// side is sandbox.BwrapCommand for the Spec the broker builds for the
// tool: the launcher's very argv and seccomp filter, without its cgroup
// handshake and limits.
func BenchmarkExecVsBwrap(b *testing.B) {
	requireTools(b, "bwrap")
	e := newEnv(b, envOptions{noCredentials: true})
	spec := brokerSpec(b, e.cfg, "t-true", e.ws)
	body, _ := json.Marshal(map[string]any{"tool": "t-true"})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	viaGateway := func() {
		req, _ := http.NewRequest("POST", e.base+"/v1/exec", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tokenCI)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(raw, []byte(`"exit_code":0`)) {
			b.Fatalf("exec: got %d %s", resp.StatusCode, raw)
		}
	}
	// The command is built before the clock starts, so the bare side is
	// bubblewrap alone.
	bareBwrap := func() func() {
		cmd, err := sandbox.BwrapCommand(context.Background(), e.cfg.Sandbox.BwrapPath, spec)
		if err != nil {
			b.Fatal(err)
		}
		return func() {
			out, err := cmd.CombinedOutput()
			cmd.ExtraFiles[0].Close()
			if err != nil {
				b.Fatalf("bare bwrap: %v: %s", err, out)
			}
		}
	}
	for range 3 {
		viaGateway()
		bareBwrap()()
	}
	runs := max(b.N, envInt("CLAWBROKER_BENCH_EXEC_RUNS", 40))
	var gw, bw []time.Duration
	timeIt := func(f func()) time.Duration { t0 := time.Now(); f(); return time.Since(t0) }
	b.ResetTimer()
	for i := range runs {
		viaBwrap := bareBwrap()
		if i%2 == 0 {
			gw = append(gw, timeIt(viaGateway))
			bw = append(bw, timeIt(viaBwrap))
		} else {
			bw = append(bw, timeIt(viaBwrap))
			gw = append(gw, timeIt(viaGateway))
		}
	}
	b.StopTimer()
	slices.Sort(gw)
	slices.Sort(bw)
	mg, mb := gw[len(gw)/2], bw[len(bw)/2]
	ratio := float64(mg) / float64(mb)
	b.ReportMetric(float64(mg.Microseconds()), "gateway-median-us")
	b.ReportMetric(float64(mb.Microseconds()), "bwrap-median-us")
	b.ReportMetric(ratio, "gateway/bwrap")
	b.Logf("runs %d: gateway median %v p90 %v; bare bwrap median %v p90 %v; ratio %.2fx (target <= 1.15x)",
		runs, mg, gw[len(gw)*9/10], mb, bw[len(bw)*9/10], ratio)
	addResult("exec", "gateway", fmt.Sprintf("| POST /v1/exec (t-true = /bin/true) | %d | %v | %v |", runs, mg.Round(10*time.Microsecond), gw[len(gw)*9/10].Round(10*time.Microsecond)))
	addResult("exec", "bwrap", fmt.Sprintf("| bare bwrap /bin/true | %d | %v | %v |", runs, mb.Round(10*time.Microsecond), bw[len(bw)*9/10].Round(10*time.Microsecond)))
	addResult("exec-ratio", "ratio", fmt.Sprintf("Median gateway/bwrap: **%.2fx** (target <= 1.15x: %s).", ratio, verdict(ratio <= 1.15)))
}

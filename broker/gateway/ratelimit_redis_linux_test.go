package gateway_test

import (
	"bufio"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// redisServer is a real redis-server the test started and will stop.
type redisServer struct {
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis runs redis-server on a free loopback port, without
// persistence, and waits until it answers PING. It is killed when the test
// ends (and, through Pdeathsig, if the test binary dies first).
func startRedis(t *testing.T) *redisServer {
	t.Helper()
	requireTools(t, "redis-server")
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := freePort(t)
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", t.TempDir(), "--loglevel", "warning")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v (apt-get install bubblewrap redis-server)", err)
		}
		rs := &redisServer{addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd, done: make(chan struct{})}
		go func() { _ = cmd.Wait(); close(rs.done) }()
		t.Cleanup(rs.stop)
		if waitFor(5*time.Second, func() bool { return rs.ping() == nil }) {
			return rs
		}
		lastErr = fmt.Errorf("redis-server on port %d did not answer PING: %v; output: %s", port, rs.ping(), out.String())
		rs.stop()
	}
	t.Fatal(lastErr)
	return nil
}

func (r *redisServer) ping() error {
	conn, err := net.DialTimeout("tcp", r.addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("got %q, want +PONG", line)
	}
	return nil
}

// stop kills the server and reaps it; safe to call twice.
func (r *redisServer) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Kill()
	<-r.done
}

// TestRedisSharedBudget runs two gateways (two brokers, two servers) on
// one real Redis and shows that they spend one budget per agent; then,
// with Redis gone, that both refuse requests instead of letting them all
// through.
func TestRedisSharedBudget(t *testing.T) {
	t.Parallel()
	rs := startRedis(t)
	url := "redis://" + rs.addr + "/0"
	a := newEnv(t, envOptions{rpm: 5, burst: 1000, redisURL: url, noCredentials: true})
	b := newEnv(t, envOptions{rpm: 5, burst: 1000, redisURL: url, noCredentials: true})
	body := map[string]any{"action": "path.read", "path": map[string]any{"requested": "hello.txt"}}

	steps := []struct {
		on     *env
		name   string
		status int
		remain string
	}{
		{a, "A", 200, "4"},
		{a, "A", 200, "3"},
		{a, "A", 200, "2"},
		{b, "B", 200, "1"},
		{b, "B", 200, "0"},
		{b, "B", 429, "0"},
		{a, "A", 429, "0"},
	}
	for i, s := range steps {
		r := s.on.do("POST", "/v1/decide", tokenCI, body)
		if r.status != s.status {
			t.Fatalf("request %d on %s: got status %d, want %d (one budget of 5 shared through Redis); body %s", i+1, s.name, r.status, s.status, r.body)
		}
		if got := r.header.Get("X-RateLimit-Remaining"); got != s.remain {
			t.Errorf("request %d on %s: got X-RateLimit-Remaining %q, want %q", i+1, s.name, got, s.remain)
		}
		if s.status == 429 && r.header.Get("Retry-After") == "" {
			t.Errorf("request %d on %s: got 429 without Retry-After", i+1, s.name)
		}
	}
	// Another agent's budget is its own, on either instance.
	if r := b.do("POST", "/v1/decide", tokenOther, body); r.status != 200 {
		t.Errorf("got status %d for agent other, want 200", r.status)
	}
	for _, e := range []*env{a, b} {
		got := countEvents(e.auditLines())
		if got[evRate] != 1 {
			t.Errorf("got %d rate_limit_exceeded events on one instance, want 1", got[evRate])
		}
		e.verifyAudit()
	}

	// Redis gone: the limiter cannot answer, so requests are refused.
	rs.stop()
	r := b.do("POST", "/v1/decide", tokenOther, body)
	if r.status != 500 {
		t.Fatalf("got status %d with Redis down, want 500 (fail closed)", r.status)
	}
	if e := r.apiError(t); e.Error != "internal" || strings.Contains(e.Message, rs.addr) {
		t.Errorf("got %q %q, want internal without the Redis address", e.Error, e.Message)
	}
	if got := countEvents(b.auditLines()); got[evDecision] != 3 {
		t.Errorf("got %d decisions on B, want 3: nothing decided with Redis down", got[evDecision])
	}
}

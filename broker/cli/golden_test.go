package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clawbroker/clawbroker/broker"
	"github.com/clawbroker/clawbroker/broker/audit"
	"github.com/clawbroker/clawbroker/broker/config"
	"github.com/clawbroker/clawbroker/broker/policy"
)

const goldenDir = "../../testdata/decisions"

// TestDecideAnswersGoldenInputs runs `clawbroker decide` on every golden
// input whose fields the broker would not change (the broker fills
// subject, paths and tool fields itself; inputs that exercise the policy's
// defences against malformed input cannot come through it) and checks the
// printed decision against the golden one.
func TestDecideAnswersGoldenInputs(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(goldenDir, "config.json5"))
	if err != nil {
		t.Fatal(err)
	}
	// Same config, but audit to a temp file and the real policies dir. The
	// golden config's policy dir is a protected path in its data; only the
	// case that reads it is affected, and is left to the engine test.
	policiesDir, _ := filepath.Abs("../../policies")
	src = bytes.Replace(src, []byte(`policies: {dir: "/home/agent/.clawbroker/policies"}`), []byte(`policies: {dir: "`+policiesDir+`", timeout_ms: 10000}`), 1)
	src = bytes.Replace(src, []byte(`audit: {output: "/home/agent/.clawbroker/audit.log"}`), []byte(`audit: {output: "`+filepath.Join(dir, "audit.log")+`"}`), 1)
	cfgPath := filepath.Join(dir, "config.json5")
	if err := os.WriteFile(cfgPath, src, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	log := audit.New(&bytes.Buffer{})
	b, err := broker.New(context.Background(), broker.Options{Config: cfg, Audit: log})
	if err != nil {
		t.Fatal(err)
	}
	inputs, _ := filepath.Glob(filepath.Join(goldenDir, "*.input.json"))
	answered := 0
	for _, inPath := range inputs {
		name := strings.TrimSuffix(filepath.Base(inPath), ".input.json")
		if name == "path_read_protected_policy_dir" {
			continue
		}
		raw, err := os.ReadFile(inPath)
		if err != nil {
			t.Fatal(err)
		}
		in, err := ParseInput(raw)
		if err != nil || in.Subject == nil {
			continue // no action or no subject: nothing the CLI would send
		}
		filled, err := b.FillInput(*in.Subject, in)
		if err != nil || !reflect.DeepEqual(normalize(t, filled), normalize(t, in)) {
			continue
		}
		answered++
		t.Run(name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			a := &App{Stdin: bytes.NewReader(nil), Stdout: &stdout, Stderr: &stderr}
			code := a.Run(context.Background(), []string{"decide", "--config", cfgPath, "--agent", in.Subject.Agent, "--input", inPath})
			var got struct {
				Allow   bool     `json:"allow"`
				Reasons []string `json:"reasons"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("decide printed %q (stderr %q): %v", stdout.String(), stderr.String(), err)
			}
			wantRaw, err := os.ReadFile(filepath.Join(goldenDir, name+".want.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				Allow   bool     `json:"allow"`
				Reasons []string `json:"reasons"`
			}
			if err := json.Unmarshal(wantRaw, &want); err != nil {
				t.Fatal(err)
			}
			if got.Allow != want.Allow || strings.Join(got.Reasons, "\n") != strings.Join(want.Reasons, "\n") {
				t.Errorf("decide = %+v, want %+v", got, want)
			}
			wantCode := ExitOK
			if !want.Allow {
				wantCode = ExitFailed
			}
			if code != wantCode {
				t.Errorf("exit code = %d, want %d", code, wantCode)
			}
		})
	}
	if answered < 20 {
		t.Errorf("only %d golden inputs are in request form; want at least 20", answered)
	}
	t.Logf("decide answered %d of %d golden inputs", answered, len(inputs))
}

func normalize(t *testing.T, in policy.Input) any {
	t.Helper()
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

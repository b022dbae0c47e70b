package policy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clawbroker/clawbroker/broker/config"
	"github.com/clawbroker/clawbroker/broker/policy"
)

var update = flag.Bool("update", false, "rewrite testdata/decisions golden files from the current policies")

// goldenDir holds NAME.input.json / NAME.want.json pairs, the config they
// are decided under, and data.json (that config's data document).
const goldenDir = "../../testdata/decisions"

// GoldenConfig loads the golden config as the broker would find it at
// /home/agent/.clawbroker/config.json5.
func goldenConfig(t *testing.T) *config.Config {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(goldenDir, "config.json5"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse("/home/agent/.clawbroker/config.json5", src)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type wantDecision struct {
	Allow   bool     `json:"allow"`
	Reasons []string `json:"reasons"`
}

func marshalGolden(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	return buf.Bytes()
}

// TestGoldenDecisions evaluates every golden input through the embedded
// engine against the golden config's data and compares the decision.
func TestGoldenDecisions(t *testing.T) {
	cfg := goldenConfig(t)
	data := map[string]any{"clawbroker": map[string]any{"config": cfg.PolicyData()}}
	dataPath := filepath.Join(goldenDir, "data.json")
	gotData := marshalGolden(data)
	if *update {
		if err := os.WriteFile(dataPath, gotData, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wantData, err := os.ReadFile(dataPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(gotData), bytes.TrimSpace(wantData)) {
		t.Errorf("data.json is not the golden config's data document; run with -update and review the diff")
	}
	eng, err := policy.New(context.Background(), policy.Options{Data: cfg.PolicyData(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	inputs, _ := filepath.Glob(filepath.Join(goldenDir, "*.input.json"))
	if len(inputs) < 25 {
		t.Fatalf("found %d golden inputs, want at least 25", len(inputs))
	}
	for _, inPath := range inputs {
		name := strings.TrimSuffix(filepath.Base(inPath), ".input.json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(inPath)
			if err != nil {
				t.Fatal(err)
			}
			var in policy.Input
			if err := json.Unmarshal(raw, &in); err != nil {
				t.Fatal(err)
			}
			d, err := eng.Decide(context.Background(), in)
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			got := wantDecision{Allow: d.Allow, Reasons: d.Reasons}
			wantPath := filepath.Join(goldenDir, name+".want.json")
			if *update {
				if err := os.WriteFile(wantPath, marshalGolden(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantRaw, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatal(err)
			}
			var want wantDecision
			if err := json.Unmarshal(wantRaw, &want); err != nil {
				t.Fatal(err)
			}
			if got.Allow != want.Allow || strings.Join(got.Reasons, "\n") != strings.Join(want.Reasons, "\n") {
				t.Errorf("decision = %+v, want %+v", got, want)
			}
		})
	}
}

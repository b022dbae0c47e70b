package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Fake credentials in the shapes of real ones. None is a live secret.
const (
	fakeOpenAI    = "sk-proj-4fQ9xT2LmB7vK1pZ8wR3yN6cH0dJ5sAeUgVi"
	fakeAnthropic = "sk-ant-api03-Zx9Qw8Er7Ty6Ui5Op4As3Df2Gh1Jk0Lz"
	fakeGitHub    = "ghp_1A2b3C4d5E6f7G8h9I0jK1l2M3n4O5p6Q7r8"
	fakeGitHubPAT = "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz"
	fakeSlack     = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
	fakeAWS       = "AKIAIOSFODNN7EXAMPLE"
	fakeGitLab    = "glpat-x1Y2z3A4b5C6d7E8f9G0"
	fakeGoogle    = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
	fakeRandom    = "Q3k9ZpL0vX7mB2nR8tY5wC1eH4jU6sDfGa"
	fakeJWT       = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjaS1ib3QifQ.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	fakePEM       = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----"
)

func TestSecretName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"token", true}, {"GITHUB_TOKEN", true}, {"accessToken", true}, {"X-Auth-Token", true},
		{"password", true}, {"db_passwd", true}, {"--password", true}, {"passphrase", true},
		{"client_secret", true}, {"AWS_SECRET_ACCESS_KEY", true}, {"apiKey", true}, {"APIKey", true},
		{"X-Api-Key", true}, {"api_key", true}, {"key", true}, {"private_key", true},
		{"Authorization", true}, {"auth", true}, {"Cookie", true}, {"Set-Cookie", true},
		{"credential", true}, {"credentials", true}, {"X-Amz-Signature", true},
		{"token_file", false}, {"--password-stdin", false}, {"key_id", false}, {"public_key", false},
		{"max_tokens", false}, {"auth_url", false}, {"credential.provider", false},
		{"key_path", false}, {"--no-auth", false}, {"author", false}, {"keyboard", false},
		{"monkey", false}, {"tokenizer", false}, {"passthrough", false}, {"path", false},
		{"provider", false}, {"agent", false}, {"", false},
	}
	for _, tt := range tests {
		if got := secretName(tt.name); got != tt.want {
			t.Errorf("secretName(%q): got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRedactString(t *testing.T) {
	tests := []struct {
		rule, in, want string
	}{
		// PEM private keys.
		{"pem", "key:\n" + fakePEM + "\nend", "key:\n[REDACTED]\nend"},
		{"pem cut short", "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA", "[REDACTED]"},
		{"pem certificate kept", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
			"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"},
		// URL user info.
		{"url password", "https://bob:hunter2@example.com/repo.git", "https://bob:[REDACTED]@example.com/repo.git"},
		{"url two", "a postgres://u:p4ss@db:5432/x b redis://:s3cret@cache:6379",
			"a postgres://u:[REDACTED]@db:5432/x b redis://:[REDACTED]@cache:6379"},
		{"url user only kept", "ssh://git@github.com/a/b", "ssh://git@github.com/a/b"},
		{"url port kept", "http://localhost:7878/v1/exec", "http://localhost:7878/v1/exec"},
		// Authorization schemes.
		{"bearer", "Authorization: Bearer abcdef123456", "Authorization: Bearer [REDACTED]"},
		{"bearer lower", "bearer abcdefgh.ijk", "bearer [REDACTED]"},
		{"basic", "Authorization: Basic dXNlcjpwYXNz", "Authorization: Basic [REDACTED]"},
		{"basic prose kept", "basic usage of the tool", "basic usage of the tool"},
		{"bearer prose kept", "the bearer of bad news", "the bearer of bad news"},
		// name=value and name: value.
		{"flag joined", "--token=abc123", "--token=[REDACTED]"},
		{"env assignment", "GITHUB_TOKEN=abc123 git push", "GITHUB_TOKEN=[REDACTED] git push"},
		{"query", "https://api.example.com/x?access_token=abc&page=2", "https://api.example.com/x?access_token=[REDACTED]&page=2"},
		{"header", "X-Api-Key: abc123", "X-Api-Key: [REDACTED]"},
		{"header with odd basic", "Authorization: Basic notbase64!", "Authorization: Basic [REDACTED]"},
		{"header with short bearer", "authorization: bearer abc", "authorization: bearer [REDACTED]"},
		{"header with other scheme", "Authorization: token " + fakeGitHub, "Authorization: [REDACTED] [REDACTED]"},
		{"json fragment", `{"password":"hunter2","user":"bob"}`, `{"password":"[REDACTED]","user":"bob"}`},
		{"quoted value with space", `password="correct horse"`, `password="[REDACTED]"`},
		{"describing name kept", "--token-file=/run/secrets/t", "--token-file=/run/secrets/t"},
		{"provider kept", "credential.provider=openai", "credential.provider=openai"},
		{"time kept", "at 12:30:45 key_id=7", "at 12:30:45 key_id=7"},
		// Known prefixes.
		{"openai", "key " + fakeOpenAI + " end", "key [REDACTED] end"},
		{"anthropic", fakeAnthropic, "[REDACTED]"},
		{"github", "x " + fakeGitHub, "x [REDACTED]"},
		{"github pat", fakeGitHubPAT, "[REDACTED]"},
		{"slack", fakeSlack, "[REDACTED]"},
		{"aws", "id " + fakeAWS + ".", "id [REDACTED]."},
		{"aws too long kept", "AKIAIOSFODNN7EXAMPLEXX", "AKIAIOSFODNN7EXAMPLEXX"},
		{"gitlab", fakeGitLab, "[REDACTED]"},
		{"google", fakeGoogle, "[REDACTED]"},
		{"jwt", "jwt " + fakeJWT, "jwt [REDACTED]"},
		{"token in url user", "https://" + fakeGitHub + "@github.com/a/b", "https://[REDACTED]@github.com/a/b"},
		{"sk word kept", "pip install sk-learn-extension-toolkit", "pip install sk-learn-extension-toolkit"},
		{"task kept", "mask-1234567890abcdefghij", "mask-1234567890abcdefghij"},
		// High entropy.
		{"random token", "secret is " + fakeRandom, "secret is [REDACTED]"},
		{"sha256 kept", "rev 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			"rev 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
		{"uuid kept", "id 123e4567-e89b-12d3-a456-426614174000", "id 123e4567-e89b-12d3-a456-426614174000"},
		{"path kept", "/home/user/projects/clawbroker/broker/audit/redact_test.go",
			"/home/user/projects/clawbroker/broker/audit/redact_test.go"},
		{"identifier kept", "TestVerifyFindsTamperingInTheMiddleOfAChain",
			"TestVerifyFindsTamperingInTheMiddleOfAChain"},
		{"module version kept", "golang.org/x/sys@v0.0.0-20191010083416-a7dc8b61c822",
			"golang.org/x/sys@v0.0.0-20191010083416-a7dc8b61c822"},
		{"env name kept", "AWS_SECRET_ACCESS_KEY_ROTATION_SCHEDULE_2024", "AWS_SECRET_ACCESS_KEY_ROTATION_SCHEDULE_2024"},
		{"sentence kept", "path /root/.ssh/id_rsa is under denied path /root/.ssh",
			"path /root/.ssh/id_rsa is under denied path /root/.ssh"},
		// Idempotence.
		{"already redacted", "--token=[REDACTED] Bearer [REDACTED]", "--token=[REDACTED] Bearer [REDACTED]"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.rule, func(t *testing.T) {
			if got := RedactString(tt.in); got != tt.want {
				t.Errorf("RedactString(%q):\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactArgv(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"separate value", []string{"login", "--password", "hunter2", "--user", "bob"},
			[]string{"login", "--password", "[REDACTED]", "--user", "bob"}},
		{"joined value", []string{"--token=abc", "status"}, []string{"--token=[REDACTED]", "status"}},
		{"single-dash long flag", []string{"-password", "hunter2"}, []string{"-password", "[REDACTED]"}},
		{"flag followed by flag", []string{"--auth-token", "--verbose"}, []string{"--auth-token", "--verbose"}},
		{"describing flag kept", []string{"--password-stdin", "registry.example.com"},
			[]string{"--password-stdin", "registry.example.com"}},
		{"curl user", []string{"curl", "-u", "bob:hunter2", "https://x"}, []string{"curl", "-u", "bob:[REDACTED]", "https://x"}},
		{"curl user joined", []string{"--user=bob:hunter2"}, []string{"--user=bob:[REDACTED]"}},
		{"header", []string{"-H", "Authorization: Bearer abcdefgh123"}, []string{"-H", "Authorization: Bearer [REDACTED]"}},
		{"lone bearer", []string{"Bearer", "abcdefgh123"}, []string{"Bearer", "[REDACTED]"}},
		{"short flag kept", []string{"-p", "8080"}, []string{"-p", "8080"}},
		{"token in position", []string{"gh", "auth", "login", "--with-token", fakeGitHub},
			[]string{"gh", "auth", "login", "--with-token", "[REDACTED]"}},
		{"env assignment", []string{"env", "OPENAI_API_KEY=abc", "python"}, []string{"env", "OPENAI_API_KEY=[REDACTED]", "python"}},
		{"git url", []string{"clone", "https://x:" + fakeGitHub + "@github.com/a/b"},
			[]string{"clone", "https://x:[REDACTED]@github.com/a/b"}},
		{"plain kept", []string{"status", "--short", "/tmp/a b"}, []string{"status", "--short", "/tmp/a b"}},
		{"nil", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]string(nil), tt.in...)
			got := RedactArgv(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RedactArgv(%q):\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if !reflect.DeepEqual(in, tt.in) {
				t.Errorf("RedactArgv modified its argument: got %q, want %q", tt.in, in)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"credential provider kept", `{"action":"credential.read","credential":{"provider":"openai"}}`,
			`{"action":"credential.read","credential":{"provider":"openai"}}`},
		{"tool credentials map kept", `{"tool":{"credentials":{"GITHUB_TOKEN":"github","NPM_TOKEN":"npm"}}}`,
			`{"tool":{"credentials":{"GITHUB_TOKEN":"github","NPM_TOKEN":"npm"}}}`},
		{"credential grants kept", `{"agents":{"ci":{"credentials":["github"]}}}`, `{"agents":{"ci":{"credentials":["github"]}}}`},
		{"bare credential string", `{"credential":"hunter2"}`, `{"credential":"[REDACTED]"}`},
		{"secret in credentials map", `{"credentials":{"password":"hunter2","GITHUB_TOKEN":"github"}}`,
			`{"credentials":{"GITHUB_TOKEN":"github","password":"[REDACTED]"}}`},
		{"secret keys", `{"token":"a","Authorization":"b","cookie":"c","api_key":"d","nested":{"client_secret":"e"}}`,
			`{"Authorization":"[REDACTED]","api_key":"[REDACTED]","cookie":"[REDACTED]","nested":{"client_secret":"[REDACTED]"},"token":"[REDACTED]"}`},
		{"secret object", `{"auth":{"user":"bob","pass":"x"}}`, `{"auth":"[REDACTED]"}`},
		{"secret number", `{"password":123456}`, `{"password":"[REDACTED]"}`},
		{"null and bool kept", `{"token":null,"auth":true}`, `{"auth":true,"token":null}`},
		{"describing keys kept", `{"max_tokens":100,"token_file":"/run/t","key_id":"k1"}`,
			`{"key_id":"k1","max_tokens":100,"token_file":"/run/t"}`},
		{"env object", `{"env":{"HOME":"/home/u","GITHUB_TOKEN":"ghx"}}`, `{"env":{"GITHUB_TOKEN":"[REDACTED]","HOME":"[REDACTED]"}}`},
		{"env array", `{"Env":["A=1","B"]}`, `{"Env":["A=[REDACTED]","B"]}`},
		{"argv", `{"tool":{"argv":["--password","x","status"]}}`, `{"tool":{"argv":["--password","[REDACTED]","status"]}}`},
		{"string values", `{"note":"use ` + fakeGitHub + `"}`, `{"note":"use [REDACTED]"}`},
		{"secret as key", `{"` + fakeGitHub + `":"ci-bot"}`, `{"[REDACTED]":"ci-bot"}`},
		{"paths kept", `{"path":{"requested":"notes/../a.txt","resolved":"/abs/workspace/a.txt"}}`,
			`{"path":{"requested":"notes/../a.txt","resolved":"/abs/workspace/a.txt"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in any
			if err := json.Unmarshal([]byte(tt.in), &in); err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(in)
			got, err := json.Marshal(Redact(in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Redact(%s):\n got %s\nwant %s", tt.in, got, tt.want)
			}
			if after, _ := json.Marshal(in); !bytes.Equal(before, after) {
				t.Errorf("Redact modified its argument: got %s, want %s", after, before)
			}
			// The streaming redactor the Logger uses applies the same rules.
			streamed, err := redactJSON(nil, []byte(tt.in))
			if err != nil {
				t.Fatalf("redactJSON: %v", err)
			}
			var tree any
			if err := json.Unmarshal(streamed, &tree); err != nil {
				t.Fatalf("redactJSON produced invalid JSON %s: %v", streamed, err)
			}
			if canon, _ := json.Marshal(tree); string(canon) != tt.want {
				t.Errorf("redactJSON(%s):\n got %s\nwant %s", tt.in, canon, tt.want)
			}
		})
	}
}

func TestRedactTypedValues(t *testing.T) {
	type toolInput struct {
		Argv        []string          `json:"argv"`
		Credentials map[string]string `json:"credentials"`
		Env         map[string]string `json:"env"`
	}
	inputs := []any{
		toolInput{Argv: []string{"--token", "hunter2"}, Credentials: map[string]string{"GITHUB_TOKEN": "github"},
			Env: map[string]string{"HOME": "/root"}},
		map[string]any{"argv": []string{"--token", "hunter2"}, "credentials": map[string]string{"GITHUB_TOKEN": "github"},
			"env": map[string]string{"HOME": "/root"}},
	}
	want := `{"argv":["--token","[REDACTED]"],"credentials":{"GITHUB_TOKEN":"github"},"env":{"HOME":"[REDACTED]"}}`
	for i, in := range inputs {
		got, _ := json.Marshal(Redact(in))
		if string(got) != want {
			t.Errorf("input %d: Redact: got %s, want %s", i, got, want)
		}
		var buf []byte
		streamed, reason := redactedJSON(&buf, in)
		var tree any
		_ = json.Unmarshal(streamed, &tree)
		if canon, _ := json.Marshal(tree); string(canon) != want || reason != "" {
			t.Errorf("input %d: redactedJSON: got %s (%q), want %s", i, canon, reason, want)
		}
	}
}

func TestRedactStruct(t *testing.T) {
	type creds struct {
		Provider string `json:"provider"`
		Token    string `json:"token"`
	}
	got, _ := json.Marshal(Redact(creds{Provider: "openai", Token: "hunter2"}))
	if want := `{"provider":"openai","token":"[REDACTED]"}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := Redact(make(chan int)); got != Redacted {
		t.Errorf("unmarshalable value: got %v, want %q", got, Redacted)
	}
	raw, _ := json.Marshal(Redact(json.RawMessage(`{"password":"x"}`)))
	if want := `{"password":"[REDACTED]"}`; string(raw) != want {
		t.Errorf("raw message: got %s, want %s", raw, want)
	}
}

// TestNoPlantedSecretInLog plants secrets in every field of every event
// and checks that none reaches the file.
func TestNoPlantedSecretInLog(t *testing.T) {
	// Secrets recognisable by their shape, anywhere.
	shaped := []string{fakeOpenAI, fakeAnthropic, fakeGitHub, fakeGitHubPAT, fakeSlack, fakeAWS,
		fakeGitLab, fakeGoogle, fakeRandom, fakeJWT, "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ"}
	// Secrets recognisable only by where they are (key, flag, env, URL).
	placed := []string{"hunter2", "correct-horse-battery", "s3cr3t-cookie", "env-value-42", "basicpass"}
	secrets := append(append([]string{}, shaped...), placed...)
	input := map[string]any{
		"action":  "tool.exec",
		"subject": map[string]any{"agent": "ci-bot", "token": "hunter2"},
		"tool": map[string]any{
			"name":        "curl",
			"argv":        []any{"-H", "Authorization: Bearer " + fakeOpenAI, "--password", "correct-horse-battery", "-u", "bob:hunter2", "https://x:" + fakeGitHub + "@example.com"},
			"env":         map[string]any{"HOME": "env-value-42"},
			"credentials": map[string]any{"GITHUB_TOKEN": "github"},
		},
		"headers":     map[string]any{"Cookie": "s3cr3t-cookie", "X-Api-Key": fakeAnthropic, "Authorization": "Basic Ym9iOmJhc2ljcGFzcw=="},
		"stdin":       "AWS_ACCESS_KEY_ID=" + fakeAWS + "\n" + fakePEM,
		"notes":       []any{fakeSlack, fakeGitLab, fakeGoogle, fakeRandom, fakeJWT, fakeGitHubPAT},
		"credential":  map[string]any{"provider": "openai"},
		"private_key": fakePEM,
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(shaped, " ")
	emits := []error{
		l.Decision(DecisionEvent{ID: "d", Input: input, Reasons: []string{"denied: token " + fakeGitHub},
			Agent: "ci-bot", Err: "eval failed with password=hunter2"}),
		l.CredentialAccess(CredentialAccess{Provider: "openai", Agent: "a", Reason: "returned " + fakeOpenAI}),
		l.ToolExecution(ToolExecution{Tool: "curl", Argv: []string{"--token", fakeGitHub, "--password=hunter2", fakeJWT}}),
		l.AuthFailure(AuthFailure{Reason: "bad bearer " + fakeRandom, Route: "/v1/x?token=hunter2"}),
		l.RateLimitExceeded(RateLimitExceeded{Agent: fakeGitHub}),
		l.PolicyReload(PolicyReload{Error: "parse: " + all, Source: "https://u:hunter2@policies.example.com"}),
		l.SandboxError(SandboxError{Tool: "t", Error: "exec failed: GITHUB_TOKEN=" + fakeGitHub + " " + fakePEM}),
	}
	for i, err := range emits {
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	l.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("got secret %q in the log, want it redacted", s)
		}
	}
	if !bytes.Contains(data, []byte(`"provider":"openai"`)) || !bytes.Contains(data, []byte(`"GITHUB_TOKEN":"github"`)) {
		t.Errorf("got provider names redacted, want them kept")
	}
	if _, err := Verify(bytes.NewReader(data), VerifyOptions{}); err != nil {
		t.Errorf("Verify: got %v, want nil", err)
	}
}

func FuzzRedactString(f *testing.F) {
	for _, s := range []string{fakePEM, "https://a:b@c", "Bearer abcdefgh1", "Basic dXNlcjpwYXNz",
		`{"password":"x"}`, "--token=a", fakeGitHub, fakeRandom, fakeJWT, "key: 'a\\'b'", "-----BEGIN "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := RedactString(s)
		if twice := RedactString(once); twice != once {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, once, twice)
		}
	})
}

func FuzzRedactJSON(f *testing.F) {
	f.Add([]byte(`{"tool":{"argv":["--password","x"],"env":{"A":"b"},"credentials":{"K":"p"}},"token":{"a":[1,2]}}`))
	f.Add([]byte(`[null,true,false,-1.5e3,"a\u00e9\n"]`))
	f.Add([]byte(`{"env":["A=b",3],"credential":"x","args":["a",1]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := redactJSON(nil, in)
		if !json.Valid(in) {
			return // an error or not, it must not panic
		}
		if err != nil {
			t.Fatalf("redactJSON(%q): got %v for valid JSON", in, err)
		}
		if !json.Valid(out) {
			t.Fatalf("redactJSON(%q): got invalid JSON %q", in, out)
		}
		again, err := redactJSON(nil, out)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q (%v)", in, out, again, err)
		}
	})
}

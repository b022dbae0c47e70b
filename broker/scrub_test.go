package broker

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

func TestRedactOutput(t *testing.T) {
	secret := []byte("sk-live-0123456789abcdef")
	s := string(secret)
	tests := []struct {
		name      string
		out       string
		truncated bool
		want      string
	}{
		{"plain", "token=" + s + "\n", false, "token=[REDACTED]\n"},
		{"twice", s + " " + s, false, "[REDACTED] [REDACTED]"},
		{"base64", base64.StdEncoding.EncodeToString(secret), false, "[REDACTED]"},
		{"base64url raw", base64.RawURLEncoding.EncodeToString(secret), false, "[REDACTED]"},
		{"hex", hex.EncodeToString(secret), false, "[REDACTED]"},
		{"HEX", strings.ToUpper(hex.EncodeToString(secret)), false, "[REDACTED]"},
		{"nothing", "no secrets here", false, "no secrets here"},
		{"cut at limit", "head " + s[:10], true, "head [REDACTED]"},
		{"short tail kept", "head sk-", true, "head sk-"},
		{"not truncated tail kept", "head " + s[:10], false, "head " + s[:10]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(redactOutput([]byte(tt.out), [][]byte{secret}, tt.truncated))
			if got != tt.want {
				t.Errorf("redactOutput(%q) = %q, want %q", tt.out, got, tt.want)
			}
		})
	}
}

package gateway

import (
	"strings"
	"testing"

	"github.com/clawbroker/clawbroker/broker/config"
)

func TestCheckListen(t *testing.T) {
	tokens := config.Auth{Tokens: map[string]string{"bot": "sha256:" + strings.Repeat("0", 64)}}
	tls := config.TLS{Cert: "/c.pem", Key: "/k.pem"}
	tests := []struct {
		name string
		g    config.Gateway
		ok   bool
	}{
		{"loopback v4", config.Gateway{Listen: "127.0.0.1:7878"}, true},
		{"loopback v6", config.Gateway{Listen: "[::1]:7878"}, true},
		{"localhost", config.Gateway{Listen: "localhost:7878"}, true},
		{"all interfaces, nothing", config.Gateway{Listen: "0.0.0.0:7878"}, false},
		{"all interfaces, empty host", config.Gateway{Listen: ":7878"}, false},
		{"public, tokens only", config.Gateway{Listen: "0.0.0.0:7878", Auth: tokens}, false},
		{"public, tls only", config.Gateway{Listen: "0.0.0.0:7878", TLS: tls}, false},
		{"public, tls and tokens", config.Gateway{Listen: "0.0.0.0:7878", TLS: tls, Auth: tokens}, true},
	}
	for _, tt := range tests {
		err := CheckListen(tt.g)
		if (err == nil) != tt.ok {
			t.Errorf("%s: CheckListen = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

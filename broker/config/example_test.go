package config_test

import (
	"fmt"

	"github.com/clawbroker/clawbroker/broker/config"
)

func ExampleParse() {
	_, err := config.Parse("/etc/clawbroker.json5", []byte("{\n  gateway: {listn: \"127.0.0.1:1\"},\n}"))
	fmt.Println(err)
	// Output: invalid config: /etc/clawbroker.json5:2: gateway.listn: unknown key (did you mean "listen"?)
}

package credstore_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/clawbroker/clawbroker/crypto/credstore"
)

func Example() {
	dir, err := os.MkdirTemp("", "credstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "credentials.enc.json")

	// Real callers use credstore.LocalIdentity(passphrase); a fixed
	// identity keeps the example's output the same on every machine.
	id := credstore.Identity{MachineID: []byte("example-machine"), UID: "1000", Username: "alice", Passphrase: []byte("hunter2")}

	s, err := credstore.OpenOrCreate(path, id)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.Set("openai", []byte("sk-example")); err != nil {
		log.Fatal(err)
	}

	secret, err := s.Get("openai")
	if err != nil {
		log.Fatal(err)
	}
	defer secret.Zero()
	fmt.Printf("printed: %v\n", secret)
	fmt.Printf("used: %d bytes\n", len(secret.Bytes()))

	entries, _ := s.List()
	for _, e := range entries {
		fmt.Println("stored:", e.Provider)
	}
	// Output:
	// printed: [REDACTED]
	// used: 10 bytes
	// stored: openai
}

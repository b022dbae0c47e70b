package credstore

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The crash and multi-process tests re-execute the test binary with
// helperEnv set to a mode; TestMain then runs that helper instead of the
// tests.
const (
	helperEnv     = "CREDSTORE_TEST_HELPER"
	helperPathEnv = "CREDSTORE_TEST_PATH"
	helperNameEnv = "CREDSTORE_TEST_NAME"
	helperNEnv    = "CREDSTORE_TEST_N"
)

func TestMain(m *testing.M) {
	switch mode := os.Getenv(helperEnv); mode {
	case "":
		os.Exit(m.Run())
	case "writeloop":
		os.Exit(runHelper(helperWriteLoop))
	case "writer":
		os.Exit(runHelper(helperWriter))
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", helperEnv, mode)
		os.Exit(2)
	}
}

func runHelper(fn func(*Store) error) int {
	s, err := openWith(os.Getenv(helperPathEnv), testIdentity(), testOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper open:", err)
		return 1
	}
	defer s.Close()
	if err := fn(s); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// counterValue is the value the write loop stores for step i; the padding
// varies the file size so a torn write would show.
func counterValue(i int) string {
	return "value-" + strconv.Itoa(i) + "-" + strings.Repeat("x", i%97)
}

func parseCounter(v string) (int, error) {
	num, _, ok := strings.Cut(strings.TrimPrefix(v, "value-"), "-")
	if !ok || !strings.HasPrefix(v, "value-") {
		return 0, fmt.Errorf("malformed counter value of %d bytes", len(v))
	}
	return strconv.Atoi(num)
}

// helperWriteLoop continues the counter from what the store holds, printing
// each step number after Set returns, until it is killed.
func helperWriteLoop(s *Store) error {
	sec, err := s.Get("counter")
	if err != nil {
		return err
	}
	i, err := parseCounter(string(sec.Bytes()))
	if err != nil {
		return err
	}
	fmt.Println("ready")
	for {
		i++
		if err := s.Set("counter", []byte(counterValue(i))); err != nil {
			return err
		}
		if _, err := fmt.Println(i); err != nil {
			return err
		}
	}
}

// helperWriter stores N providers named NAME-0 … NAME-(N-1).
func helperWriter(s *Store) error {
	n, err := strconv.Atoi(os.Getenv(helperNEnv))
	if err != nil {
		return err
	}
	name := os.Getenv(helperNameEnv)
	for j := range n {
		if err := s.Set(fmt.Sprintf("%s-%d", name, j), []byte("v")); err != nil {
			return err
		}
	}
	return nil
}

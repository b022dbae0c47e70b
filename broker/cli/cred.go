package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/clawbroker/clawbroker/broker"
	"github.com/clawbroker/clawbroker/crypto/credstore"
)

// EnvNewPassphrase holds the passphrase `cred rotate` re-seals the store
// with when there is no terminal to ask on. Set and empty means none.
const EnvNewPassphrase = "CLAWBROKER_NEW_PASSPHRASE"

func init() { extraCommands = append(extraCommands, newCredCommand) }

// credTerminal returns a no-echo prompt when stdin is a terminal, and
// ok=false otherwise. Tests replace it to play a user at a terminal.
var credTerminal = func(a *App) (prompt func(label string) ([]byte, error), ok bool) {
	f, isFile := a.Stdin.(*os.File)
	if !isFile || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return func(label string) ([]byte, error) {
		fmt.Fprint(a.Stderr, label)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(a.Stderr)
		return b, err
	}, true
}

func newCredCommand(a *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cred",
		Short: "Manage the encrypted credential store",
		Long: `cred manages the credential store at config credentials.path. It is
sealed with a key derived from this machine, this user and an optional
passphrase. The passphrase comes from $` + broker.EnvPassphrase + ` (set and empty
means none), else, when the store has one, from a prompt on the terminal.
Values are never taken from the command line.`,
	}
	cmd.AddCommand(newCredSetCommand(a), newCredListCommand(a), newCredRmCommand(a), newCredRotateCommand(a))
	return cmd
}

func newCredSetCommand(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "set PROVIDER",
		Short: "Store a credential, read from stdin or a hidden prompt; creates the store if needed",
		Args:  exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			provider := args[0]
			if !credstore.ValidProvider(provider) {
				return usageError(fmt.Errorf("cred set: %w", credstore.ErrInvalidProvider))
			}
			path, err := a.credPath()
			if err != nil {
				return err
			}
			s, created, err := a.openOrCreateStore(path)
			if err != nil {
				return err
			}
			defer s.Close()
			value, err := a.readValue(provider)
			if err != nil {
				return err
			}
			defer clear(value)
			if err := s.Set(provider, value); err != nil {
				return failedError(fmt.Errorf("cred set %s: %w", provider, err))
			}
			if created {
				fmt.Fprintf(a.Stderr, "created credential store %s\n", s.Path())
			}
			fmt.Fprintf(a.Stdout, "stored credential for %s\n", provider)
			return nil
		},
	}
}

func newCredListCommand(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List stored providers and their dates, never their values",
		Args:  exactArgs(0),
		RunE: func(_ *cobra.Command, _ []string) error {
			path, err := a.credPath()
			if err != nil {
				return err
			}
			s, err := a.openStore(path)
			if err != nil {
				return err
			}
			defer s.Close()
			entries, err := s.List()
			if err != nil {
				return failedError(fmt.Errorf("cred list: %w", err))
			}
			if len(entries) == 0 {
				fmt.Fprintf(a.Stderr, "no credentials stored in %s\n", s.Path())
				return nil
			}
			w := tabwriter.NewWriter(a.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PROVIDER\tCREATED\tUPDATED")
			for _, e := range entries {
				fmt.Fprintf(w, "%s\t%s\t%s\n", e.Provider, e.CreatedAt.UTC().Format(time.RFC3339), e.UpdatedAt.UTC().Format(time.RFC3339))
			}
			return w.Flush()
		},
	}
}

func newCredRmCommand(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "rm PROVIDER",
		Short: "Remove a stored credential",
		Args:  exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			provider := args[0]
			if !credstore.ValidProvider(provider) {
				return usageError(fmt.Errorf("cred rm: %w", credstore.ErrInvalidProvider))
			}
			path, err := a.credPath()
			if err != nil {
				return err
			}
			s, err := a.openStore(path)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.Delete(provider); err != nil {
				if errors.Is(err, credstore.ErrNotFound) {
					return failedError(fmt.Errorf("cred rm: no credential is stored for provider %q in %s (see clawbroker cred list)", provider, s.Path()))
				}
				return failedError(fmt.Errorf("cred rm %s: %w", provider, err))
			}
			fmt.Fprintf(a.Stdout, "removed credential for %s\n", provider)
			return nil
		},
	}
}

func newCredRotateCommand(a *App) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Re-encrypt every credential under a new salt and passphrase",
		Long: `rotate re-encrypts the store under a fresh salt and a new passphrase, taken
from $` + EnvNewPassphrase + ` (set and empty means none) or asked twice on the
terminal. The current passphrase is found as for every cred verb. A running
broker keeps the old key and must be restarted to read the store again.`,
		Args: exactArgs(0),
		RunE: func(_ *cobra.Command, _ []string) error {
			path, err := a.credPath()
			if err != nil {
				return err
			}
			s, err := a.openStore(path)
			if err != nil {
				return err
			}
			defer s.Close()
			pass, err := a.newPassphrase(EnvNewPassphrase, true)
			if err != nil {
				return err
			}
			id, err := credstore.LocalIdentity(pass)
			if err != nil {
				clear(pass)
				return failedError(err)
			}
			err = s.Rotate(id)
			clear(pass)
			if err != nil {
				return failedError(fmt.Errorf("cred rotate: %w", err))
			}
			info, err := s.Info()
			if err != nil {
				return failedError(err)
			}
			with := "without a passphrase"
			if info.HasPassphrase {
				with = "with the new passphrase"
			}
			fmt.Fprintf(a.Stdout, "rotated %s: %d credentials re-encrypted %s (key id %s)\n", s.Path(), info.Entries, with, info.KeyID)
			fmt.Fprintln(a.Stderr, "a running clawbroker serve still holds the old key: restart it to read credentials again")
			return nil
		},
	}
}

// credPath is config credentials.path, already ~-expanded by config.Load.
func (a *App) credPath() (string, error) {
	cfg, err := a.LoadConfig()
	if err != nil {
		return "", err
	}
	return cfg.Credentials.Path, nil
}

// openStore unlocks the existing store at path, finding the passphrase as
// the cred help describes.
func (a *App) openStore(path string) (*credstore.Store, error) {
	pass, fromEnv, err := a.currentPassphrase(path)
	if err != nil {
		return nil, err
	}
	defer clear(pass)
	id, err := credstore.LocalIdentity(pass)
	if err != nil {
		return nil, failedError(err)
	}
	s, err := credstore.Open(path, id)
	if err != nil {
		return nil, failedError(explainOpenError(err, fromEnv))
	}
	return s, nil
}

// openOrCreateStore opens the store at path or, when there is none, creates
// it with the passphrase from $CLAWBROKER_PASSPHRASE, else one chosen at the
// terminal, else none.
func (a *App) openOrCreateStore(path string) (s *credstore.Store, created bool, err error) {
	_, err = credstore.Inspect(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		s, err = a.openStore(path)
		return s, false, err
	}
	pass, err := a.newPassphrase(broker.EnvPassphrase, false)
	if err != nil {
		return nil, false, err
	}
	defer clear(pass)
	id, err := credstore.LocalIdentity(pass)
	if err != nil {
		return nil, false, failedError(err)
	}
	s, err = credstore.Create(path, id)
	if errors.Is(err, fs.ErrExist) { // created meanwhile by another process
		s, err = a.openStore(path)
		return s, false, err
	}
	if err != nil {
		return nil, false, failedError(fmt.Errorf("cred set: creating the store: %w", err))
	}
	return s, true, nil
}

// currentPassphrase returns the passphrase of the store at path: from
// $CLAWBROKER_PASSPHRASE when set, none when the header says the store has
// none, else from a terminal prompt.
func (a *App) currentPassphrase(path string) (pass []byte, fromEnv bool, err error) {
	if v, ok := os.LookupEnv(broker.EnvPassphrase); ok {
		return []byte(v), true, nil
	}
	info, err := credstore.Inspect(path)
	if err != nil {
		return nil, false, failedError(err)
	}
	if !info.HasPassphrase {
		return nil, false, nil
	}
	prompt, ok := credTerminal(a)
	if !ok {
		return nil, false, failedError(fmt.Errorf("the credential store %s is sealed with a passphrase: set $%s, or run this on a terminal to be asked", path, broker.EnvPassphrase))
	}
	pass, err = prompt("Passphrase for " + path + ": ")
	if err != nil {
		return nil, false, failedError(fmt.Errorf("reading the passphrase: %w", err))
	}
	return pass, false, nil
}

// newPassphrase returns a passphrase to seal with: from env when set, else
// asked twice on a terminal, else none, or an error when required is set.
func (a *App) newPassphrase(env string, required bool) ([]byte, error) {
	if v, ok := os.LookupEnv(env); ok {
		return []byte(v), nil
	}
	prompt, ok := credTerminal(a)
	if !ok {
		if required {
			return nil, usageError(fmt.Errorf("no new passphrase: set $%s (empty for none), or run this on a terminal to be asked", env))
		}
		return nil, nil
	}
	first, err := prompt("New passphrase for the credential store (empty for none): ")
	if err != nil {
		return nil, failedError(fmt.Errorf("reading the passphrase: %w", err))
	}
	second, err := prompt("Repeat it: ")
	if err != nil {
		clear(first)
		return nil, failedError(fmt.Errorf("reading the passphrase: %w", err))
	}
	defer clear(second)
	if !bytes.Equal(first, second) {
		clear(first)
		return nil, failedError(errors.New("the two passphrases differ; nothing was changed"))
	}
	return first, nil
}

// readValue reads a credential value: a hidden prompt on a terminal, else
// all of stdin with one trailing newline removed (as `echo` adds).
func (a *App) readValue(provider string) ([]byte, error) {
	if prompt, ok := credTerminal(a); ok {
		v, err := prompt("Value for " + provider + " (input hidden): ")
		if err != nil {
			return nil, failedError(fmt.Errorf("reading the value: %w", err))
		}
		if len(v) == 0 {
			return nil, failedError(fmt.Errorf("cred set %s: empty value; nothing stored", provider))
		}
		return v, nil
	}
	v, err := io.ReadAll(io.LimitReader(a.Stdin, credstore.MaxValueSize+3))
	if err != nil {
		clear(v)
		return nil, failedError(fmt.Errorf("reading the value from stdin: %w", err))
	}
	v = bytes.TrimSuffix(v, []byte("\n"))
	v = bytes.TrimSuffix(v, []byte("\r"))
	switch {
	case len(v) == 0:
		return nil, usageError(fmt.Errorf("cred set %s: no value on stdin; pipe it in (never as an argument) or run on a terminal to be asked", provider))
	case len(v) > credstore.MaxValueSize:
		clear(v)
		return nil, failedError(fmt.Errorf("cred set %s: value longer than %d bytes", provider, credstore.MaxValueSize))
	}
	return v, nil
}

// explainOpenError adds what the user can do to the store's own errors.
func explainOpenError(err error, passFromEnv bool) error {
	if errors.Is(err, credstore.ErrWrongKey) {
		if passFromEnv {
			return fmt.Errorf("%w (passphrase taken from $%s)", err, broker.EnvPassphrase)
		}
		return fmt.Errorf("%w (wrong passphrase, or the store was made on another machine or by another user)", err)
	}
	return err
}

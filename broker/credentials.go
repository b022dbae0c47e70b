package broker

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"

	"github.com/clawbroker/clawbroker/broker/audit"
	"github.com/clawbroker/clawbroker/broker/policy"
	"github.com/clawbroker/clawbroker/crypto/credstore"
)

// EnvPassphrase names the variable that holds the credential store's
// passphrase for a broker that runs without a terminal.
const EnvPassphrase = "CLAWBROKER_PASSPHRASE"

// CredentialStore is what the broker needs of a credential store.
type CredentialStore interface {
	Get(provider string) (credstore.Secret, error)
	List() ([]credstore.Entry, error)
}

// credentials opens the store at the configured path on first use, so a
// store created with `clawbroker cred set` while the broker runs is found.
type credentials struct {
	mu    sync.Mutex
	store CredentialStore
	path  func() string
	fixed bool
	// failed remembers an open that failed (a wrong passphrase, say) for
	// the file as it was, so agents cannot make the broker run Argon2id
	// on every request; a changed file is tried again at once.
	failed    error
	failedFor os.FileInfo
}

func newCredentials(s CredentialStore, path func() string) *credentials {
	return &credentials{store: s, path: path, fixed: s != nil}
}

// errNoStore means no store file exists yet.
var errNoStore = errors.New("no credential store exists yet: create one with `clawbroker cred set PROVIDER`")

func (c *credentials) get() (CredentialStore, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.store != nil {
		return c.store, nil
	}
	path := c.path()
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, errNoStore)
	}
	if c.failed != nil && c.failedFor != nil && os.SameFile(info, c.failedFor) &&
		info.ModTime().Equal(c.failedFor.ModTime()) && info.Size() == c.failedFor.Size() {
		return nil, c.failed
	}
	// The identity holds this slice; it is zeroed once the store is open.
	id, err := credstore.LocalIdentity([]byte(os.Getenv(EnvPassphrase)))
	if err != nil {
		return nil, fmt.Errorf("credential store: %w", err)
	}
	s, err := credstore.Open(path, id)
	clear(id.Passphrase)
	if err != nil {
		c.failed, c.failedFor = fmt.Errorf("credential store: %w", err), info
		return nil, c.failed
	}
	c.failed, c.failedFor = nil, nil
	c.store = s
	return s, nil
}

// secret returns the named secret. A store re-keyed by `clawbroker cred
// rotate` while the broker runs no longer opens with the key in hand, so
// on ErrWrongKey an opened-by-path store is reopened once.
func (c *credentials) secret(provider string) (credstore.Secret, error) {
	for attempt := 0; ; attempt++ {
		store, err := c.get()
		if err != nil {
			return credstore.Secret{}, err
		}
		sec, err := store.Get(provider)
		if err == nil || attempt > 0 || !errors.Is(err, credstore.ErrWrongKey) || !c.reset(store) {
			return sec, err
		}
	}
}

// reset forgets a store opened from the config path so the next get
// reopens it; it reports whether there was one to forget.
func (c *credentials) reset(old CredentialStore) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fixed || c.store != old {
		return false
	}
	if cl, ok := old.(interface{ Close() error }); ok {
		_ = cl.Close()
	}
	c.store = nil
	return true
}

// CredentialResult is an allowed credential read. The caller must Zero
// the secret once it has been sent.
type CredentialResult struct {
	DecisionID string
	Provider   string
	Secret     credstore.Secret
}

// ReadCredential returns a credential's value where policy allows
// credential.read for this subject. Every attempt, allowed or not, is a
// credential_access event; the value never is.
func (b *Broker) ReadCredential(ctx context.Context, sub Subject, provider string) (CredentialResult, error) {
	if !credstore.ValidProvider(provider) {
		return CredentialResult{}, invalid("provider", "want 1-64 characters of a-z, 0-9, '.', '_' or '-'")
	}
	st := b.state.Current()
	return b.readCredential(ctx, st, sub, provider, "")
}

func (b *Broker) readCredential(ctx context.Context, st *state, sub Subject, provider, forTool string) (CredentialResult, error) {
	in := policy.Input{Action: policy.ActionCredentialRead, Subject: &sub, Credential: &policy.CredentialInput{Provider: provider}}
	ev := audit.CredentialAccess{Provider: provider, Agent: sub.Agent, Tool: forTool}
	d, err := b.require(ctx, st, in)
	ev.DecisionID = d.ID
	if err != nil {
		ev.Reason = "denied by policy"
		if errors.Is(err, ErrAudit) {
			return CredentialResult{DecisionID: d.ID}, err
		}
		if aerr := b.audit.CredentialAccess(ev); aerr != nil {
			return CredentialResult{DecisionID: d.ID}, fmt.Errorf("%w: %w", ErrAudit, aerr)
		}
		return CredentialResult{DecisionID: d.ID}, err
	}
	res := CredentialResult{DecisionID: d.ID, Provider: provider}
	secret, err := b.creds.secret(provider)
	if err != nil {
		ev.Reason = credentialFailure(err)
		if aerr := b.audit.CredentialAccess(ev); aerr != nil {
			return res, fmt.Errorf("%w: %w", ErrAudit, aerr)
		}
		if errors.Is(err, credstore.ErrNotFound) {
			return res, fmt.Errorf("%w: no credential is stored for provider %q", ErrNotFound, provider)
		}
		return res, err
	}
	ev.Success = true
	if aerr := b.audit.CredentialAccess(ev); aerr != nil {
		secret.Zero()
		return res, fmt.Errorf("%w: %w", ErrAudit, aerr)
	}
	res.Secret = secret
	return res, nil
}

func credentialFailure(err error) string {
	switch {
	case errors.Is(err, credstore.ErrNotFound):
		return "not in the credential store"
	case errors.Is(err, ErrNotFound):
		return "no credential store"
	case errors.Is(err, credstore.ErrWrongKey):
		return "credential store does not open with this machine, user and passphrase"
	case errors.Is(err, credstore.ErrCorrupt):
		return "credential store is corrupt"
	}
	return "credential store error"
}

// ListCredentials names the stored providers and when they were created;
// never a value.
func (b *Broker) ListCredentials(ctx context.Context, sub Subject) ([]credstore.Entry, error) {
	store, err := b.creds.get()
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return []credstore.Entry{}, nil
		}
		return nil, err
	}
	return store.List()
}

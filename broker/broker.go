// Package broker is clawbroker's core: the Broker type is the only place
// where policy inputs are built, policy is asked, security events are
// written and the sandbox is started. The HTTP gateway and the CLI map
// their input onto its methods and its errors back.
package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/clawbroker/clawbroker/broker/audit"
	"github.com/clawbroker/clawbroker/broker/config"
	"github.com/clawbroker/clawbroker/broker/policy"
	"github.com/clawbroker/clawbroker/sandbox"
)

// Subject is who asks; front ends fill it from authentication, never from
// the request body.
type Subject = policy.Subject

// Options configure a Broker.
type Options struct {
	// Config is the loaded configuration.
	Config *config.Config
	// Reload, when set, loads a fresh config for Reload (SIGHUP). Nil means
	// reloads re-read policies only, with the current config.
	Reload func() (*config.Config, error)
	// Audit receives every security event. Required.
	Audit *audit.Logger
	// Launcher runs tools; nil means sandbox.New for this OS, created on
	// first use so a machine without a sandbox can still answer decisions.
	Launcher sandbox.Launcher
	// Credentials, when set, replaces the store at config credentials.path.
	Credentials CredentialStore
	// Log is the operational log (not the audit log).
	Log zerolog.Logger
}

// Broker answers agents' requests. It is safe for concurrent use.
type Broker struct {
	state    *policy.Reloader[state]
	audit    *audit.Logger
	log      zerolog.Logger
	reload   func() (*config.Config, error)
	launchMu sync.Mutex
	launcher sandbox.Launcher
	creds    *credentials
	inflight sync.WaitGroup
	observe  atomic.Pointer[func(action string, allow bool, eval time.Duration)]
}

// OnDecision registers fn to hear every decision (for metrics). Call it
// before serving.
func (b *Broker) OnDecision(fn func(action string, allow bool, eval time.Duration)) {
	b.observe.Store(&fn)
}

// state pairs a config with the engine built from it, so a request sees
// one consistent pair even while a reload swaps both.
type state struct {
	cfg    *config.Config
	engine *policy.Engine
}

func (s state) Revision() string { return s.engine.Revision() }

// New builds a broker: it compiles the policies against the config and
// fails if they do not load.
func New(ctx context.Context, opts Options) (*Broker, error) {
	if opts.Config == nil {
		return nil, errors.New("broker: no config")
	}
	if opts.Audit == nil {
		return nil, errors.New("broker: no audit logger: every decision must be recorded")
	}
	b := &Broker{audit: opts.Audit, log: opts.Log, launcher: opts.Launcher, reload: opts.Reload}
	cfg := opts.Config
	first := true
	build := func(ctx context.Context) (*state, error) {
		c := cfg
		if !first && b.reload != nil {
			var err error
			if c, err = b.reload(); err != nil {
				return nil, err
			}
		}
		first = false
		eng, err := policy.New(ctx, policy.Options{Dir: c.Policies.Dir, Data: c.PolicyData(), Timeout: c.Policies.Timeout(), CacheSize: c.Policies.EngineCacheSize()})
		if err != nil {
			return nil, err
		}
		return &state{cfg: c, engine: eng}, nil
	}
	r, err := policy.NewReloader(ctx, build, b.recordReload)
	if err != nil {
		return nil, err
	}
	b.state = r
	b.creds = newCredentials(opts.Credentials, func() string { return b.state.Current().cfg.Credentials.Path })
	st := r.Current()
	if err := b.audit.PolicyReload(audit.PolicyReload{Success: true, Revision: st.Revision(), Source: "startup"}); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAudit, err)
	}
	return b, nil
}

func (b *Broker) recordReload(ev policy.ReloadEvent) {
	rec := audit.PolicyReload{Success: ev.Success, Revision: ev.Revision, PreviousRevision: ev.PreviousRevision, Source: ev.Source}
	if ev.Err != nil {
		rec.Error = ev.Err.Error()
		b.log.Error().Err(ev.Err).Str("source", ev.Source).Str("revision", ev.Revision).Msg("policy reload failed; keeping the previous policies")
	} else {
		b.log.Info().Str("source", ev.Source).Str("revision", ev.Revision).Msg("policies reloaded")
	}
	if err := b.audit.PolicyReload(rec); err != nil {
		b.log.Error().Err(err).Msg("audit log cannot be written")
	}
}

// Config returns the config in use now.
func (b *Broker) Config() *config.Config { return b.state.Current().cfg }

// Revision returns the policy revision in use now.
func (b *Broker) Revision() string { return b.state.Current().Revision() }

// Reload rebuilds config (when Options.Reload is set) and policies, and
// swaps them in; a failure keeps the old ones and says why.
func (b *Broker) Reload(ctx context.Context, source string) error {
	return b.state.Reload(ctx, source)
}

// WatchPolicies reloads when a file in the policy directory changes. With
// the built-in policies there is nothing to watch and it returns nil.
func (b *Broker) WatchPolicies(ctx context.Context) error {
	dir := b.Config().Policies.Dir
	if dir == "" {
		return nil
	}
	return b.state.Watch(ctx, dir, 200*time.Millisecond)
}

// Ready reports whether the broker can serve: policies compiled (always
// true once New returned) and the audit sink writable.
func (b *Broker) Ready() error {
	if err := b.audit.Healthy(); err != nil {
		return fmt.Errorf("%w: %w", ErrAudit, err)
	}
	return nil
}

// Wait blocks until every running tool has finished; Shutdown uses it.
func (b *Broker) Wait() { b.inflight.Wait() }

// Decide answers a policy question the way a real request would be
// answered: the broker fills the subject, resolves the path, and takes the
// tool's command and capabilities from config, ignoring what the caller
// sent for them. A deny is not an error; err is non-nil only when the
// decision could not be made or recorded (it is then a deny too).
func (b *Broker) Decide(ctx context.Context, sub Subject, in policy.Input) (policy.Decision, error) {
	st := b.state.Current()
	if err := b.fill(st, sub, &in); err != nil {
		return policy.Decision{}, err
	}
	return b.decide(ctx, st, in)
}

// FillInput returns in as the policy will see it for sub: every
// broker-owned field (subject, resolved path, ancestors, tool command and
// capabilities) replaced with what the broker computes.
func (b *Broker) FillInput(sub Subject, in policy.Input) (policy.Input, error) {
	err := b.fill(b.state.Current(), sub, &in)
	return in, err
}

// fill overwrites every broker-owned field of an input.
func (b *Broker) fill(st *state, sub Subject, in *policy.Input) error {
	in.Subject = &Subject{Agent: sub.Agent, SourceIP: sub.SourceIP}
	if in.Path != nil {
		rp, err := ResolveWorkspacePath(st.cfg.Workspace.Path, in.Path.Requested)
		if err != nil {
			return err
		}
		in.Path = rp.input()
	}
	if in.Tool != nil {
		t := *in.Tool
		t.Command, t.Capabilities, t.Credentials = "", []policy.Capability{}, nil
		if tc, ok := st.cfg.Tools[t.Name]; ok {
			t.Command = tc.Command
			t.Capabilities = capabilitiesInput(tc.Capabilities)
			t.Credentials = tc.Credentials
		}
		if t.Argv == nil {
			t.Argv = []string{}
		}
		cwd := t.Cwd
		if cwd == "" {
			cwd = st.cfg.Workspace.Path
		}
		rp, err := ResolveWorkspacePath(st.cfg.Workspace.Path, cwd)
		if err != nil {
			var ie *InvalidError
			if errors.As(err, &ie) {
				return invalid("cwd", "%s", ie.Msg)
			}
			return err
		}
		t.Cwd = rp.Resolved
		in.Tool = &t
	}
	return nil
}

func capabilitiesInput(caps []config.Capability) []policy.Capability {
	out := make([]policy.Capability, len(caps))
	for i, c := range caps {
		out[i] = policy.Capability{Type: c.Type, Paths: c.Paths, Hosts: c.Hosts, Commands: c.Commands}
	}
	return out
}

// decide evaluates a filled input and records the decision. Audit or
// deny: a decision that cannot be recorded is a deny.
func (b *Broker) decide(ctx context.Context, st *state, in policy.Input) (policy.Decision, error) {
	d, evalErr := st.engine.Decide(ctx, in)
	if fn := b.observe.Load(); fn != nil {
		(*fn)(in.Action, d.Allow, d.EvalTime)
	}
	ev := audit.DecisionEvent{
		ID: d.ID, Input: in, Allow: d.Allow, Reasons: d.Reasons, Action: in.Action,
		Agent: in.Subject.Agent, Revision: d.Revision, EvalNS: d.EvalTime.Nanoseconds(), Cached: d.Cached,
	}
	if evalErr != nil {
		ev.Err = evalErr.Error()
		b.log.Error().Err(evalErr).Str("decision_id", d.ID).Msg("policy evaluation failed; denied")
	}
	if err := b.audit.Decision(ev); err != nil {
		b.log.Error().Err(err).Str("decision_id", d.ID).Msg("audit log cannot be written; denied")
		return policy.Decision{ID: d.ID, Revision: d.Revision, Reasons: []string{"the audit log cannot be written, so nothing is allowed"}},
			fmt.Errorf("%w: %w", ErrAudit, err)
	}
	return d, nil
}

// require decides and turns a deny into a *DenyError.
func (b *Broker) require(ctx context.Context, st *state, in policy.Input) (policy.Decision, error) {
	d, err := b.decide(ctx, st, in)
	if err != nil {
		return d, err
	}
	if !d.Allow {
		return d, &DenyError{DecisionID: d.ID, Reasons: d.Reasons}
	}
	return d, nil
}

// sandboxLauncher returns the launcher, creating it on first use.
func (b *Broker) sandboxLauncher(cfg *config.Config) (sandbox.Launcher, error) {
	b.launchMu.Lock()
	defer b.launchMu.Unlock()
	if b.launcher != nil {
		return b.launcher, nil
	}
	l, err := sandbox.New(sandbox.Options{BwrapPath: cfg.Sandbox.BwrapPath})
	if err != nil {
		return nil, err
	}
	b.launcher = l
	return l, nil
}

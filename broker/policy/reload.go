package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Revisioned is anything built from a policy set: an Engine, or a broker
// state that pairs an engine with the config it was built from.
type Revisioned interface{ Revision() string }

// ReloadEvent reports one reload attempt.
type ReloadEvent struct {
	Success          bool
	Source           string // "startup", "sighup", "file change", ...
	Revision         string // of the engine in use after the attempt
	PreviousRevision string
	Err              error
}

// Reloader holds the current T and replaces it atomically. A reload builds
// a complete new T off to the side; only when that succeeds is one pointer
// swapped, so no request ever sees a half-loaded engine, and a reload that
// fails keeps the old T.
type Reloader[T Revisioned] struct {
	cur      atomic.Pointer[T]
	build    func(context.Context) (*T, error)
	onReload func(ReloadEvent)
	mu       sync.Mutex // serialises builds
}

// NewReloader builds the first T. onReload (may be nil) hears every later
// attempt.
func NewReloader[T Revisioned](ctx context.Context, build func(context.Context) (*T, error), onReload func(ReloadEvent)) (*Reloader[T], error) {
	first, err := build(ctx)
	if err != nil {
		return nil, err
	}
	r := &Reloader[T]{build: build, onReload: onReload}
	r.cur.Store(first)
	return r, nil
}

// Current returns the T in use. Hold on to it for the whole of a request.
func (r *Reloader[T]) Current() *T { return r.cur.Load() }

// Reload builds a new T and swaps it in; on failure the old one stays and
// the error says why.
func (r *Reloader[T]) Reload(ctx context.Context, source string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.cur.Load()
	ev := ReloadEvent{Source: source, PreviousRevision: (*old).Revision()}
	next, err := r.build(ctx)
	if err != nil {
		ev.Revision, ev.Err = ev.PreviousRevision, err
		r.report(ev)
		return fmt.Errorf("reload (%s) failed, keeping revision %s: %w", source, ev.PreviousRevision, err)
	}
	r.cur.Store(next)
	ev.Success, ev.Revision = true, (*next).Revision()
	r.report(ev)
	return nil
}

func (r *Reloader[T]) report(ev ReloadEvent) {
	if r.onReload != nil {
		r.onReload(ev)
	}
}

// Watch reloads whenever a file under dir changes, until ctx ends. Bursts
// of events (an editor's write-rename dance, a git checkout) are coalesced
// into one reload after debounce.
func (r *Reloader[T]) Watch(ctx context.Context, dir string, debounce time.Duration) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	add := func(root string) error {
		return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return w.Add(p)
			}
			return nil
		})
	}
	if err := add(dir); err != nil {
		w.Close()
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	go func() {
		defer w.Close()
		var timer *time.Timer
		var fire <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				if timer != nil {
					timer.Stop()
				}
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if ev.Has(fsnotify.Create) {
					if info, err := os.Stat(ev.Name); err == nil && info.IsDir() {
						_ = add(ev.Name)
					}
				}
				if timer == nil {
					timer = time.NewTimer(debounce)
				} else {
					timer.Reset(debounce)
				}
				fire = timer.C
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				r.report(ReloadEvent{Source: "file watch", Revision: (*r.cur.Load()).Revision(), Err: err})
			case <-fire:
				fire = nil
				err := r.Reload(ctx, "file change in "+dir)
				if err != nil && errors.Is(err, context.Canceled) {
					return
				}
			}
		}
	}()
	return nil
}

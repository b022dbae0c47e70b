package credstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Entry describes a stored credential without its value.
type Entry struct {
	Provider  string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Info is what a store's header says, readable without unlocking. It is not
// authenticated until the store is opened; use it only to decide what to
// ask the user (for example whether a passphrase is needed).
type Info struct {
	Version       int
	KDF           KDFParams
	HasPassphrase bool
	KeyID         string
	Entries       int
}

// Store is an unlocked credential store. Its methods are safe for
// concurrent use, and several Stores (in one process or many) may share a
// file: writers serialise on a lock file next to it and re-read the file
// under the lock, and readers notice a replaced file with one stat.
type Store struct {
	path     string // absolute, symlinks resolved
	lockPath string
	opts     options

	mu     sync.Mutex
	keys   *keys
	doc    *fileDoc
	stamp  fs.FileInfo // of the file doc was read from
	closed bool
}

// options are the knobs tests turn; Open and Create use defaultOptions.
type options struct {
	params KDFParams // for Create and Rotate
	limits kdfLimits // what a header may ask for
	now    func() time.Time
}

func defaultOptions() options {
	return options{params: DefaultKDFParams(), limits: defaultKDFLimits, now: time.Now}
}

// Open unlocks the store at path with id. It fails with an error wrapping
// fs.ErrNotExist when there is no store (the message says how to create
// one), ErrInsecurePermissions when the file or its directory is open to
// other users, ErrWrongKey when id is not the identity the store was sealed
// with, ErrUnsupportedVersion for a newer format, and ErrCorrupt (a
// *CorruptError) when the file was damaged or modified.
func Open(path string, id Identity) (*Store, error) { return openWith(path, id, defaultOptions()) }

// Create makes a new empty store at path sealed with id, creating its
// directory with mode 0700 if needed. It fails with an error wrapping
// fs.ErrExist when a store is already there.
func Create(path string, id Identity) (*Store, error) { return createWith(path, id, defaultOptions()) }

// OpenOrCreate opens the store at path, creating an empty one if there is
// none. It returns the errors of Open and Create.
func OpenOrCreate(path string, id Identity) (*Store, error) {
	return openOrCreateWith(path, id, defaultOptions())
}

// Inspect reads the header of the store at path without unlocking it.
func Inspect(path string) (Info, error) {
	abs, err := resolvePath(path)
	if err != nil {
		return Info{}, err
	}
	raw, _, err := readStore(abs)
	if err != nil {
		return Info{}, err
	}
	d, err := decode(abs, raw, defaultKDFLimits)
	if err != nil {
		return Info{}, err
	}
	return Info{Version: d.Version, KDF: d.KDF.params(), HasPassphrase: d.HasPassphrase, KeyID: d.KeyID, Entries: len(d.Entries)}, nil
}

func openOrCreateWith(path string, id Identity, o options) (*Store, error) {
	s, err := openWith(path, id, o)
	if !errors.Is(err, fs.ErrNotExist) {
		return s, err
	}
	s, err = createWith(path, id, o)
	if errors.Is(err, fs.ErrExist) { // another process created it first
		return openWith(path, id, o)
	}
	return s, err
}

func openWith(path string, id Identity, o options) (*Store, error) {
	abs, err := resolvePath(path)
	if err != nil {
		return nil, err
	}
	if err := checkDir(filepath.Dir(abs)); err != nil {
		return nil, err
	}
	raw, fi, err := readStore(abs)
	if err != nil {
		return nil, err
	}
	d, k, err := unlock(abs, raw, id, o.limits)
	if err != nil {
		return nil, err
	}
	return &Store{path: abs, lockPath: abs + ".lock", opts: o, keys: k, doc: d, stamp: fi}, nil
}

// unlock parses the file contents raw, derives the keys its header asks for
// from id and verifies the whole document. It returns no document unless
// every check passed.
func unlock(path string, raw []byte, id Identity, lim kdfLimits) (*fileDoc, *keys, error) {
	d, err := decode(path, raw, lim)
	if err != nil {
		return nil, nil, err
	}
	k, err := deriveKeys(id, d.KDF.params(), d.KDF.Salt)
	if err != nil {
		return nil, nil, err
	}
	if err := k.verify(path, d); err != nil {
		k.zero()
		return nil, nil, err
	}
	return d, k, nil
}

func createWith(path string, id Identity, o options) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("credstore: %w", err)
	}
	dir := filepath.Dir(abs)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("credstore: creating %s: %w", dir, err)
	}
	if abs, err = resolvePath(abs); err != nil {
		return nil, err
	}
	if err := checkDir(filepath.Dir(abs)); err != nil {
		return nil, err
	}
	salt, err := randomBytes(saltLen)
	if err != nil {
		return nil, err
	}
	k, err := deriveKeys(id, o.params, salt)
	if err != nil {
		return nil, err
	}
	s := &Store{path: abs, lockPath: abs + ".lock", opts: o, keys: k}
	err = s.withFileLock(func() error {
		if _, err := os.Lstat(abs); err == nil {
			return fmt.Errorf("credential store %s already exists: %w", abs, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("credstore: %w", err)
		}
		return s.writeLocked(newDoc(k, o.params, salt, len(id.Passphrase) > 0))
	})
	if err != nil {
		k.zero()
		return nil, err
	}
	return s, nil
}

// Path returns the absolute path of the store file.
func (s *Store) Path() string { return s.path }

// Info returns the header of the store as last read.
func (s *Store) Info() (Info, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(false); err != nil {
		return Info{}, err
	}
	d := s.doc
	return Info{Version: d.Version, KDF: d.KDF.params(), HasPassphrase: d.HasPassphrase, KeyID: d.KeyID, Entries: len(d.Entries)}, nil
}

// List returns the stored providers sorted by name, with their dates and
// never their values.
func (s *Store) List() ([]Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(false); err != nil {
		return nil, err
	}
	out := make([]Entry, len(s.doc.Entries))
	for i, e := range s.doc.Entries {
		out[i] = Entry{Provider: e.Provider, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}
	}
	return out, nil
}

// Get returns the value stored for provider, or an error wrapping
// ErrNotFound. It sees writes made by other processes: one stat per call
// tells whether the file was replaced since it was last read. The caller
// should Zero the Secret when done with it.
func (s *Store) Get(provider string) (Secret, error) {
	if !ValidProvider(provider) {
		return Secret{}, ErrInvalidProvider
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(false); err != nil {
		return Secret{}, err
	}
	i, ok := s.doc.find(provider)
	if !ok {
		return Secret{}, fmt.Errorf("provider %q: %w", provider, ErrNotFound)
	}
	pt, err := s.keys.open(s.path, &s.doc.Entries[i])
	if err != nil {
		return Secret{}, err
	}
	return newSecret(pt), nil
}

// Set stores value for provider, replacing any previous value. It fails
// with ErrInvalidProvider or ErrInvalidValue (empty or larger than
// MaxValueSize) before touching the file. Set does not keep value.
func (s *Store) Set(provider string, value []byte) error {
	if !ValidProvider(provider) {
		return ErrInvalidProvider
	}
	if len(value) == 0 {
		return fmt.Errorf("%w: empty", ErrInvalidValue)
	}
	if len(value) > MaxValueSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidValue, len(value), MaxValueSize)
	}
	return s.update(func(d *fileDoc) error {
		nonce, ct, err := s.keys.seal(provider, value)
		if err != nil {
			return err
		}
		now := s.opts.now().UTC().Truncate(time.Second)
		e := fileEntry{Provider: provider, KeyID: s.keys.keyID, Nonce: nonce, Ciphertext: ct, CreatedAt: now, UpdatedAt: now}
		if i, ok := d.find(provider); ok {
			e.CreatedAt = d.Entries[i].CreatedAt
			d.Entries[i] = e
		} else {
			d.Entries = append(d.Entries[:i], append([]fileEntry{e}, d.Entries[i:]...)...)
		}
		if len(d.Entries) > maxEntries {
			return fmt.Errorf("credstore: more than %d entries", maxEntries)
		}
		return nil
	})
}

// Delete removes provider's entry, or fails with ErrNotFound.
func (s *Store) Delete(provider string) error {
	if !ValidProvider(provider) {
		return ErrInvalidProvider
	}
	return s.update(func(d *fileDoc) error {
		i, ok := d.find(provider)
		if !ok {
			return fmt.Errorf("provider %q: %w", provider, ErrNotFound)
		}
		d.Entries = append(d.Entries[:i], d.Entries[i+1:]...)
		return nil
	})
}

// Rotate re-encrypts every entry under a fresh salt, the current default
// KDF parameters and newID (a new passphrase, or a new machine or user), and
// replaces the file in one atomic rename. Afterwards the store opens only
// with newID; other processes holding it open get ErrWrongKey and must
// Open it again.
func (s *Store) Rotate(newID Identity) error {
	salt, err := randomBytes(saltLen)
	if err != nil {
		return err
	}
	nk, err := deriveKeys(newID, s.opts.params, salt)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		nk.zero()
		return ErrClosed
	}
	err = s.withFileLock(func() error {
		if err := s.refreshLocked(true); err != nil {
			return err
		}
		nd := newDoc(nk, s.opts.params, salt, len(newID.Passphrase) > 0)
		for i := range s.doc.Entries {
			old := &s.doc.Entries[i]
			pt, err := s.keys.open(s.path, old)
			if err != nil {
				return err
			}
			nonce, ct, err := nk.seal(old.Provider, pt)
			clear(pt)
			if err != nil {
				return err
			}
			nd.Entries = append(nd.Entries, fileEntry{Provider: old.Provider, KeyID: nk.keyID, Nonce: nonce, Ciphertext: ct, CreatedAt: old.CreatedAt, UpdatedAt: old.UpdatedAt})
		}
		old := s.keys
		s.keys = nk
		if err := s.writeLocked(nd); err != nil {
			s.keys = old
			return err
		}
		old.zero()
		return nil
	})
	if err != nil && s.keys != nk {
		nk.zero()
	}
	return err
}

// Close zeroes the keys. Later calls fail with ErrClosed; Close itself may
// be called more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys.zero()
	s.doc = nil
	s.closed = true
	return nil
}

// update applies fn to the newest document under the file lock and writes
// the result.
func (s *Store) update(fn func(*fileDoc) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return s.withFileLock(func() error {
		if err := s.refreshLocked(true); err != nil {
			return err
		}
		d := s.doc.clone()
		if err := fn(d); err != nil {
			return err
		}
		return s.writeLocked(d)
	})
}

// refreshLocked re-reads the file when it was replaced since the last read,
// or always when force is set: writers force it under the file lock, so
// their read-modify-write never rests on a stat comparison. s.mu is held.
func (s *Store) refreshLocked(force bool) error {
	if s.closed {
		return ErrClosed
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return &notExistError{path: s.path}
		}
		return fmt.Errorf("credstore: %w", err)
	}
	if !force && sameVersion(s.stamp, fi) {
		return nil
	}
	raw, fi, err := readStore(s.path)
	if err != nil {
		return err
	}
	d, err := decode(s.path, raw, s.opts.limits)
	if err != nil {
		return err
	}
	if d.KeyID != s.keys.keyID { // key ids are public; a plain compare is fine
		return fmt.Errorf("credential store %s was re-keyed (cred rotate) since it was unlocked; open it again: %w", s.path, ErrWrongKey)
	}
	if err := s.keys.verify(s.path, d); err != nil {
		return err
	}
	s.doc, s.stamp = d, fi
	return nil
}

// sameVersion reports whether b is the same file, unchanged, as a. A
// rename gives a new inode, so a replaced file is noticed even when its
// size and modification time are equal; a chmod is noticed by the mode, so
// a file opened up to other users is refused on the next call.
func sameVersion(a, b fs.FileInfo) bool {
	return a != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime()) && a.Mode() == b.Mode()
}

// readStore reads the store file through one handle, so the FileInfo
// describes exactly the bytes returned, and checks its mode.
func readStore(path string) ([]byte, fs.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, &notExistError{path: path}
		}
		return nil, nil, fmt.Errorf("credstore: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("credstore: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, corrupt(path, "", "not a regular file")
	}
	if err := checkFile(path, fi); err != nil {
		return nil, nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("credstore: reading %s: %w", path, err)
	}
	return raw, fi, nil
}

// resolvePath makes path absolute and resolves symlinks, so that writes
// replace the real file rather than the link.
func resolvePath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("credstore: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if errors.Is(err, fs.ErrNotExist) {
		dir, derr := filepath.EvalSymlinks(filepath.Dir(abs))
		if derr != nil {
			return "", &notExistError{path: abs}
		}
		return filepath.Join(dir, filepath.Base(abs)), nil
	}
	if err != nil {
		return "", fmt.Errorf("credstore: %w", err)
	}
	return real, nil
}

func (s *Store) withFileLock(fn func() error) error {
	unlock, err := lockFile(s.lockPath)
	if err != nil {
		return fmt.Errorf("credstore: locking %s: %w", s.lockPath, err)
	}
	defer unlock()
	return fn()
}

// writeLocked writes d atomically and makes it the cached document. The
// file lock is held.
func (s *Store) writeLocked(d *fileDoc) error {
	data, err := s.keys.finish(d)
	if err != nil {
		return err
	}
	removeStaleTemps(s.path)
	if err := writeFileAtomic(s.path, data); err != nil {
		return err
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("credstore: %w", err)
	}
	s.doc, s.stamp = d, fi
	return nil
}

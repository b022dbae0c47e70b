package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/clawbroker/clawbroker/broker/config"
	"github.com/clawbroker/clawbroker/broker/policy"
)

// Write modes.
const (
	ModeCreate    = "create"
	ModeOverwrite = "overwrite"
	ModeAppend    = "append"
)

// FileResult answers a read or a write.
type FileResult struct {
	DecisionID string
	Path       string // the resolved path that was opened
	Content    []byte // reads only
	Size       int64  // bytes read, or the file's size after a write
}

// WriteRequest asks to write Content to Path.
type WriteRequest struct {
	Path    string
	Content []byte
	Mode    string // create (default), overwrite or append
}

// ReadFile reads a file the policy allows the subject to read. The path is
// resolved before it is judged, and the file is opened through os.Root on
// the allowed root that contains it, then checked to be the very file that
// was judged, so a symlink swapped in after the decision leads nowhere.
func (b *Broker) ReadFile(ctx context.Context, sub Subject, path string) (FileResult, error) {
	st := b.state.Current()
	rp, d, err := b.judgePath(ctx, st, sub, policy.ActionPathRead, path)
	if err != nil {
		return FileResult{DecisionID: d.ID}, err
	}
	res := FileResult{DecisionID: d.ID, Path: rp.Resolved}
	root, rel, err := b.openRoot(st, rp, d.ID)
	if err != nil {
		return res, err
	}
	defer root.Close()
	f, err := openJudged(root, rel, os.O_RDONLY, rp.Resolved, path)
	if err != nil {
		var de *DenyError
		if errors.As(err, &de) {
			de.DecisionID = d.ID
			return res, de
		}
		return res, b.fileError(path, err, d.ID)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return res, b.fileError(path, err, d.ID)
	}
	if info.IsDir() {
		return res, invalid("path", "%s is a directory", path)
	}
	if !info.Mode().IsRegular() {
		return res, invalid("path", "%s is not a regular file", path)
	}
	limit := st.cfg.Workspace.MaxFileBytes
	if info.Size() > limit {
		return res, fmt.Errorf("%w: %s is %d bytes, over the %d-byte limit (workspace.max_file_bytes)", ErrTooLarge, path, info.Size(), limit)
	}
	content, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return res, b.fileError(path, err, d.ID)
	}
	if int64(len(content)) > limit {
		return res, fmt.Errorf("%w: %s grew over the %d-byte limit while being read", ErrTooLarge, path, limit)
	}
	res.Content, res.Size = content, int64(len(content))
	return res, nil
}

// WriteFile writes a file the policy allows the subject to write. Parent
// directories inside the allowed root are created; a final-component
// symlink is refused; overwrite replaces the file atomically (temp file,
// fsync, rename), so a failed write leaves the old content.
func (b *Broker) WriteFile(ctx context.Context, sub Subject, req WriteRequest) (FileResult, error) {
	st := b.state.Current()
	mode := req.Mode
	if mode == "" {
		mode = ModeCreate
	}
	if mode != ModeCreate && mode != ModeOverwrite && mode != ModeAppend {
		return FileResult{}, invalid("mode", "want create, overwrite or append, got %q", req.Mode)
	}
	if limit := st.cfg.Workspace.MaxFileBytes; int64(len(req.Content)) > limit {
		return FileResult{}, fmt.Errorf("%w: content is %d bytes, over the %d-byte limit (workspace.max_file_bytes)", ErrTooLarge, len(req.Content), limit)
	}
	rp, d, err := b.judgePath(ctx, st, sub, policy.ActionPathWrite, req.Path)
	if err != nil {
		return FileResult{DecisionID: d.ID}, err
	}
	res := FileResult{DecisionID: d.ID, Path: rp.Resolved}
	// The request's own last component must not be a symlink, even one that
	// resolves to an allowed file: writes never follow a link.
	named := filepath.Join(config.ResolveExisting(filepath.Dir(rp.Clean)), filepath.Base(rp.Clean))
	if info, err := os.Lstat(named); err == nil && info.Mode()&fs.ModeSymlink != 0 {
		return res, &DenyError{DecisionID: d.ID, Reasons: []string{fmt.Sprintf("path %s is a symbolic link; writes never follow a final-component symlink", req.Path)}}
	}
	root, rel, err := b.openRoot(st, rp, d.ID)
	if err != nil {
		return res, err
	}
	defer root.Close()
	if rel == "." {
		return res, invalid("path", "%s is a directory", req.Path)
	}
	dir := filepath.Dir(rel)
	if dir != "." {
		if err := root.MkdirAll(dir, 0o750); err != nil {
			return res, b.fileError(req.Path, err, d.ID)
		}
	}
	if info, err := root.Lstat(rel); err == nil {
		if info.Mode()&fs.ModeSymlink != 0 {
			return res, &DenyError{DecisionID: d.ID, Reasons: []string{fmt.Sprintf("path %s is a symbolic link; writes never follow a final-component symlink", req.Path)}}
		}
		if info.IsDir() {
			return res, invalid("path", "%s is a directory", req.Path)
		}
		if mode == ModeCreate {
			return res, invalid("path", "%s already exists; use mode overwrite or append", req.Path)
		}
	} else if !isNotExist(err) {
		return res, b.fileError(req.Path, err, d.ID)
	}
	switch mode {
	case ModeCreate:
		err = writeNew(root, rel, rp.Resolved, req.Content)
	case ModeOverwrite:
		err = writeReplace(root, rel, rp.Resolved, req.Content)
	case ModeAppend:
		err = writeAppend(root, rel, rp.Resolved, req.Content, st.cfg.Workspace.MaxFileBytes)
	}
	if err != nil {
		var de *DenyError
		if errors.As(err, &de) {
			de.DecisionID = d.ID
			return res, de
		}
		return res, b.fileError(req.Path, err, d.ID)
	}
	info, err := root.Stat(rel)
	if err != nil {
		return res, b.fileError(req.Path, err, d.ID)
	}
	res.Size = info.Size()
	return res, nil
}

// judgePath resolves a request path and asks the policy about action on
// it; a deny is a *DenyError.
func (b *Broker) judgePath(ctx context.Context, st *state, sub Subject, action, path string) (resolvedPath, policy.Decision, error) {
	rp, err := ResolveWorkspacePath(st.cfg.Workspace.Path, path)
	if err != nil {
		return rp, policy.Decision{}, err
	}
	d, err := b.require(ctx, st, policy.Input{Action: action, Subject: &sub, Path: rp.input()})
	return rp, d, err
}

// swapped is the refusal for a file that is not the one the policy judged.
func swapped(path string, err error) *DenyError {
	return &DenyError{Reasons: []string{fmt.Sprintf("path %s changed between the decision and the open: %v", path, err)}}
}

// openJudged opens name in root and checks, before anything is written or
// read, that it is the file at want; otherwise it closes it and refuses,
// naming label (the path the caller knows).
func openJudged(root *os.Root, name string, flag int, want, label string) (*os.File, error) {
	f, err := root.OpenFile(name, flag, 0o640)
	if err != nil {
		return nil, err
	}
	if err := verifyOpened(f, want); err != nil {
		f.Close()
		return nil, swapped(label, err)
	}
	return f, nil
}

// openRoot opens the allowed root that contains the resolved path.
func (b *Broker) openRoot(st *state, rp resolvedPath, decisionID string) (*os.Root, string, error) {
	rootDir, ok := rootFor(st.cfg, rp.Resolved)
	if !ok {
		return nil, "", &DenyError{DecisionID: decisionID, Reasons: []string{fmt.Sprintf(
			"path %s is allowed by policy but lies outside the workspace and allowed_paths, the only roots the broker opens files under", rp.Requested)}}
	}
	if err := ensureDir(st.cfg.Workspace.Path); err != nil {
		return nil, "", fmt.Errorf("workspace: %w", err)
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return nil, "", fmt.Errorf("%w: allowed root cannot be opened: %w", ErrNotFound, err)
	}
	return root, relTo(rootDir, rp.Resolved), nil
}

// fileError maps an OS error to one that names only what the caller sent.
func (b *Broker) fileError(requested string, err error, decisionID string) error {
	switch {
	case isNotExist(err):
		return fmt.Errorf("%w: %s does not exist", ErrNotFound, requested)
	case errors.Is(err, fs.ErrPermission):
		return &DenyError{DecisionID: decisionID, Reasons: []string{fmt.Sprintf("the operating system refused access to %s", requested)}}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		// A path error through os.Root that is not "missing" means the path
		// tried to leave its root: a symlink swapped in after the decision.
		if pe.Err != nil && pe.Err.Error() == "path escapes from parent" {
			return &DenyError{DecisionID: decisionID, Reasons: []string{fmt.Sprintf("path %s leads outside its allowed root", requested)}}
		}
		b.log.Error().Err(err).Str("decision_id", decisionID).Msg("file access failed")
		return fmt.Errorf("cannot access %s: %w", requested, pe.Err)
	}
	b.log.Error().Err(err).Str("decision_id", decisionID).Msg("file access failed")
	return fmt.Errorf("cannot access %s", requested)
}

func writeNew(root *os.Root, rel, want string, content []byte) error {
	f, err := openJudged(root, rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, want, rel)
	if err != nil {
		return err
	}
	if err := writeSync(f, content); err != nil {
		_ = root.Remove(rel)
		return err
	}
	return nil
}

func writeReplace(root *os.Root, rel, want string, content []byte) error {
	var rnd [8]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return err
	}
	tmp := filepath.Join(filepath.Dir(rel), ".clawbroker-"+hex.EncodeToString(rnd[:])+".tmp")
	f, err := openJudged(root, tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filepath.Join(filepath.Dir(want), filepath.Base(tmp)), rel)
	if err != nil {
		var de *DenyError
		if errors.As(err, &de) {
			_ = root.Remove(tmp)
		}
		return err
	}
	if err := writeSync(f, content); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	if err := root.Rename(tmp, rel); err != nil {
		_ = root.Remove(tmp)
		return err
	}
	return nil
}

func writeAppend(root *os.Root, rel, want string, content []byte, limit int64) error {
	f, err := openJudged(root, rel, os.O_WRONLY|os.O_CREATE|os.O_APPEND, want, rel)
	if err != nil {
		return err
	}
	if info, err := f.Stat(); err == nil && info.Size()+int64(len(content)) > limit {
		f.Close()
		return fmt.Errorf("%w: the file would grow over the %d-byte limit (workspace.max_file_bytes)", ErrTooLarge, limit)
	}
	return writeSync(f, content)
}

func writeSync(f *os.File, content []byte) error {
	if _, err := f.Write(content); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Package file is the file:// backend of store.Store: objects are regular files under a root
// directory, and a key's slashes are directory separators.
//
// Put writes the object to a temporary file in the key's directory, syncs it to disk and renames it
// over the key, then syncs the directory. Rename within a directory is atomic on POSIX file systems,
// so a reader sees the old object or the new one, never a part, even if the writer is killed. A killed
// writer can leave a temporary file behind (named ".abs-tmp-PID-*"); List never reports such files,
// the next write to the same directory removes those whose process is gone, Orphans lists them, and
// a key with a segment that starts with ".abs-tmp-" is rejected.
//
// Because a key's prefix is a directory, one store cannot hold both "a" and "a/b": the second Put
// fails.
package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/abs-nas/abs/artifacts/store"
)

// tmpPrefix starts the name of every temporary file Put writes.
const tmpPrefix = ".abs-tmp-"

// Store is a store.Store rooted at a local directory. Create it with New.
type Store struct {
	root string // absolute, cleaned
}

var _ store.Store = (*Store)(nil)

// New returns a store rooted at dir, which is made absolute. The directory need not exist yet:
// Put creates it and any parents.
func New(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("file store: empty root directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("file store: root %q: %w", dir, err)
	}
	return &Store{root: abs}, nil
}

// Root returns the absolute root directory of s.
func (s *Store) Root() string { return s.root }

// URL returns the file:// URL of key, e.g. "file:///runs/r1/scores.parquet".
func (s *Store) URL(key string) string {
	u := url.URL{Scheme: "file", Path: path.Join(filepath.ToSlash(s.root), key)}
	return u.String()
}

func checkKey(key string) error {
	if err := store.CheckKey(key); err != nil {
		return err
	}
	for _, seg := range strings.Split(key, "/") {
		if strings.HasPrefix(seg, tmpPrefix) {
			return fmt.Errorf("invalid key %q: segment %q starts with %q, reserved for temporary files", key, seg, tmpPrefix)
		}
	}
	return nil
}

func (s *Store) path(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

// Put writes r to the object at key atomically (see the package comment).
func (s *Store) Put(ctx context.Context, key string, r io.Reader) error {
	return s.write(ctx, key, r, os.Rename)
}

// Create writes r to the object at key unless one exists: it links the complete temporary file
// to the key, which fails if the key exists.
func (s *Store) Create(ctx context.Context, key string, r io.Reader) error {
	err := s.write(ctx, key, r, func(tmp, dst string) error {
		err := os.Link(tmp, dst)
		os.Remove(tmp)
		return err
	})
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", s.URL(key), fs.ErrExist)
	}
	return err
}

// write writes r to a temporary file in the key's directory and moves it to the key with place.
func (s *Store) write(ctx context.Context, key string, r io.Reader, place func(tmp, dst string) error) (err error) {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", s.URL(key), err)
	}
	dst := s.path(key)
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("put %s: %w", s.URL(key), err)
	}
	removeOrphans(dir)
	f, err := os.CreateTemp(dir, tmpPrefix+strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", s.URL(key), err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = io.Copy(f, ctxReader{ctx, r}); err != nil {
		return fmt.Errorf("put %s: %w", s.URL(key), err)
	}
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("put %s: %w", s.URL(key), err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("put %s: sync: %w", s.URL(key), err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("put %s: %w", s.URL(key), err)
	}
	if err = ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", s.URL(key), err)
	}
	if err = place(tmp, dst); err != nil {
		return fmt.Errorf("put %s: %w", s.URL(key), err)
	}
	// Make the rename itself durable.
	if d, derr := os.Open(dir); derr == nil {
		derr = d.Sync()
		d.Close()
		if derr != nil {
			return fmt.Errorf("put %s: sync directory: %w", s.URL(key), derr)
		}
	}
	return nil
}

// orphan reports whether name is a temporary file whose writer is gone: its process (named in the
// name) no longer runs on this host.
func orphan(name string) bool {
	rest, ok := strings.CutPrefix(name, tmpPrefix)
	if !ok {
		return false
	}
	pidText, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return true // not written by this package's Put
	}
	p, err := os.FindProcess(pid)
	return err != nil || p.Signal(syscall.Signal(0)) != nil
}

// removeOrphans removes the temporary files of killed writers from dir (best effort: a failure
// only leaves them for the next write).
func removeOrphans(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Type().IsRegular() && orphan(e.Name()) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// Orphans returns the paths of the temporary files under the store's root that killed writers
// left behind (the next write to their directory removes them).
func (s *Store) Orphans(ctx context.Context) ([]string, error) {
	var out []string
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.Type().IsRegular() && orphan(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find temporary files under %s: %w", s.URL(""), err)
	}
	return out, nil
}

// Get opens the object at key.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %s: %w", s.URL(key), err)
	}
	f, err := os.Open(s.path(key))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", s.URL(key), pathErr(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("get %s: %w", s.URL(key), pathErr(err))
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("get %s: not an object: %w", s.URL(key), fs.ErrNotExist)
	}
	return f, nil
}

// Stat describes the object at key.
func (s *Store) Stat(ctx context.Context, key string) (store.Info, error) {
	if err := checkKey(key); err != nil {
		return store.Info{}, fmt.Errorf("stat: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return store.Info{}, fmt.Errorf("stat %s: %w", s.URL(key), err)
	}
	fi, err := os.Stat(s.path(key))
	if err != nil {
		return store.Info{}, fmt.Errorf("stat %s: %w", s.URL(key), pathErr(err))
	}
	if !fi.Mode().IsRegular() {
		return store.Info{}, fmt.Errorf("stat %s: not an object: %w", s.URL(key), fs.ErrNotExist)
	}
	return store.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// List returns the objects (regular files) whose keys start with prefix, sorted by key.
func (s *Store) List(ctx context.Context, prefix string) ([]store.Info, error) {
	if err := store.CheckPrefix(prefix); err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	// Walk only the deepest directory the prefix names completely.
	startKey := ""
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		startKey = prefix[:i]
	}
	start := s.root
	if startKey != "" {
		start = s.path(startKey)
	}
	var infos []store.Info
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // a missing directory holds no objects
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(s.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if p == start {
				return nil
			}
			// Descend only where keys below can still match the prefix.
			if strings.HasPrefix(key+"/", prefix) || strings.HasPrefix(prefix, key+"/") {
				return nil
			}
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), tmpPrefix) || !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted while listing
			}
			return err
		}
		infos = append(infos, store.Info{Key: key, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", s.URL(prefix), pathErr(err))
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	return infos, nil
}

// Delete removes the object at key; a missing object is not an error. Emptied directories are left
// in place (removing them would race with a concurrent Put below them).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", s.URL(key), err)
	}
	p := s.path(key)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", s.URL(key), pathErr(err))
	}
	if fi.IsDir() {
		return nil // a directory is not an object, so there is no object at key
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", s.URL(key), pathErr(err))
	}
	return nil
}

// pathErr strips the *fs.PathError around err, whose path would repeat the URL in our message.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// ctxReader fails reads once ctx is done, so a long copy stops on cancellation.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

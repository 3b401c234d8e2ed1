package artifacts

import (
	"context"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"strings"

	"github.com/abs-nas/abs/artifacts/store"
	"github.com/abs-nas/abs/artifacts/store/file"
)

// Open opens the store rooted at the directory or prefix that rawURL names:
//
//	file:///abs/dir    the file backend rooted at /abs/dir
//	/abs/dir, rel/dir  the same, for a plain path (a relative path is made absolute)
//
// An unknown scheme is an error naming it.
func Open(ctx context.Context, rawURL string) (store.Store, error) {
	_ = ctx
	scheme, rest, err := splitURL(rawURL)
	if err != nil {
		return nil, err
	}
	switch scheme {
	case "file":
		st, err := file.New(rest)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", rawURL, err)
		}
		return st, nil
	}
	return nil, fmt.Errorf("open %s: unknown scheme %q (want file:// or a path)", rawURL, scheme)
}

// OpenObject opens the store rooted at the parent of the object that rawURL names and returns the
// object's key in it, so that st.URL(key) names the same object as rawURL. rawURL takes the forms
// Open accepts.
func OpenObject(ctx context.Context, rawURL string) (store.Store, string, error) {
	scheme, rest, err := splitURL(rawURL)
	if err != nil {
		return nil, "", err
	}
	switch scheme {
	case "file":
		abs, err := filepath.Abs(rest)
		if err != nil {
			return nil, "", fmt.Errorf("open object %s: %w", rawURL, err)
		}
		dir, key := filepath.Split(abs)
		if err := store.CheckKey(key); err != nil {
			return nil, "", fmt.Errorf("open object %s: not an object: %w", rawURL, err)
		}
		st, err := file.New(dir)
		if err != nil {
			return nil, "", fmt.Errorf("open object %s: %w", rawURL, err)
		}
		return st, key, nil
	}
	return nil, "", fmt.Errorf("open object %s: unknown scheme %q (want file:// or a path)", rawURL, scheme)
}

// splitURL returns the scheme of rawURL ("file" for a plain path) and, for file URLs, the local path.
func splitURL(rawURL string) (scheme, local string, err error) {
	if rawURL == "" {
		return "", "", fmt.Errorf("open: empty URL")
	}
	if !strings.Contains(rawURL, "://") {
		if strings.Contains(rawURL, ":") && !strings.ContainsAny(rawURL[:strings.Index(rawURL, ":")], "/.") {
			return "", "", fmt.Errorf("open %s: want scheme://… or a path", rawURL)
		}
		return "file", rawURL, nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", fmt.Errorf("open %s: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", "", fmt.Errorf("open %s: file URL with host %q (want file:///abs/path)", rawURL, u.Host)
		}
		if !path.IsAbs(u.Path) {
			return "", "", fmt.Errorf("open %s: file URL path %q is not absolute", rawURL, u.Path)
		}
		return "file", filepath.FromSlash(u.Path), nil
	}
	return u.Scheme, "", nil
}

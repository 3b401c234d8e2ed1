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
	"github.com/abs-nas/abs/artifacts/store/s3"
)

// Open opens the store rooted at the directory or prefix that rawURL names:
//
//	file:///abs/dir       the file backend rooted at /abs/dir
//	/abs/dir, rel/dir     the same, for a plain path (a relative path is made absolute)
//	s3://bucket/prefix    the S3 backend: the objects of bucket under prefix (may be empty),
//	                      configured from the environment (see package s3)
//
// Open sends no request. An unknown scheme is an error naming it.
func Open(ctx context.Context, rawURL string) (store.Store, error) {
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
	case "s3":
		bucket, prefix, err := splitS3(rawURL)
		if err != nil {
			return nil, err
		}
		return openS3(rawURL, bucket, prefix)
	}
	return nil, fmt.Errorf("open %s: unknown scheme %q (want file://, s3:// or a path)", rawURL, scheme)
}

func openS3(rawURL, bucket, prefix string) (store.Store, error) {
	cfg, err := s3.ConfigFromEnv()
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", rawURL, err)
	}
	st, err := s3.New(cfg, bucket, prefix)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", rawURL, err)
	}
	return st, nil
}

// splitS3 returns the bucket and the key or prefix of an s3:// URL.
func splitS3(rawURL string) (bucket, key string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", fmt.Errorf("open %s: %w", rawURL, err)
	}
	if u.Host == "" {
		return "", "", fmt.Errorf("open %s: no bucket (want s3://bucket/prefix)", rawURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", "", fmt.Errorf("open %s: want s3://bucket/prefix without user, query or fragment", rawURL)
	}
	return u.Host, strings.TrimPrefix(u.Path, "/"), nil
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
	case "s3":
		bucket, obj, err := splitS3(rawURL)
		if err != nil {
			return nil, "", err
		}
		prefix, key := path.Split(obj)
		if err := store.CheckKey(key); err != nil {
			return nil, "", fmt.Errorf("open object %s: not an object: %w", rawURL, err)
		}
		st, err := openS3(rawURL, bucket, prefix)
		if err != nil {
			return nil, "", err
		}
		return st, key, nil
	}
	return nil, "", fmt.Errorf("open object %s: unknown scheme %q (want file://, s3:// or a path)", rawURL, scheme)
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

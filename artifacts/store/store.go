// Package store is the one storage seam of abs: every artifact is read and written through a Store,
// whatever the technology behind it (local files or an S3 bucket).
package store

import (
	"context"
	"io"
	"time"
)

// Store holds objects addressed by slash-separated keys relative to the store's root.
// A missing object is reported as an error that matches fs.ErrNotExist (errors.Is) on every backend.
// Put is atomic: a reader never sees a partially written object, even if the writer dies mid-way.
// A key that CheckKey rejects is an error naming the key, on every method and backend. Every method
// stops with an error wrapping ctx.Err() once ctx is done. The package storetest checks all of this.
type Store interface {
	// Put streams r into the object at key, replacing any previous object.
	Put(ctx context.Context, key string, r io.Reader) error
	// Create writes r to the object at key only if there is none, atomically: of two concurrent
	// Creates of one key, one fails. An existing object is an error matching fs.ErrExist. It
	// serves lock files.
	Create(ctx context.Context, key string, r io.Reader) error
	// Get opens the object at key for reading. The caller closes it.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat describes the object at key.
	Stat(ctx context.Context, key string) (Info, error)
	// List returns the objects whose keys start with prefix, sorted by key. The prefix is a plain
	// string prefix (see CheckPrefix): "runs/r1" matches "runs/r1/x" and "runs/r10", "runs/r1/"
	// only the former.
	List(ctx context.Context, prefix string) ([]Info, error)
	// Delete removes the object at key. Deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// URL returns the URL of key in this store, e.g. "file:///runs/x/key" or "s3://bucket/prefix/key".
	URL(key string) string
}

// Info describes one stored object.
type Info struct {
	Key     string    // key relative to the store's root
	Size    int64     // size in bytes
	ModTime time.Time // last modification
}

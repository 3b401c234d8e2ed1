// Package manifest keeps the manifest at the root of a run: the list of the run's artifacts with
// their sizes, sha256 checksums, schemas and producers. Verify checks a run against it.
//
// The manifest is one JSON object at Key. Record updates it by reading, changing and rewriting it,
// so the steps of one run must not record concurrently (the pipeline runs them in sequence).
package manifest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"

	"github.com/abs-nas/abs/artifacts/schema"
	"github.com/abs-nas/abs/artifacts/store"
)

// Key is the key of the manifest in a run's store.
const Key = "manifest.json"

// version is the manifest format version.
const version = 1

// Manifest lists the artifacts of a run, sorted by key. The zero value is an empty manifest.
type Manifest struct {
	Version   int     `json:"version"`
	Artifacts []Entry `json:"artifacts"`
}

// Entry is one artifact of a run. Schema is empty for files that are not abs artifacts (logs,
// reports); the schema fields and the producer are then whatever the recorder says.
type Entry struct {
	Key             string `json:"key"`
	Size            int64  `json:"size"`
	SHA256          string `json:"sha256"`
	Schema          string `json:"schema,omitempty"`
	SchemaVersion   int    `json:"schema_version,omitempty"`
	Producer        string `json:"producer"`
	ProducerVersion string `json:"producer_version,omitempty"`
}

// EntryOf returns the manifest entry of an artifact that schema's Put or Get returned.
func EntryOf(o schema.Object) Entry {
	return Entry{
		Key: o.Key, Size: o.Size, SHA256: o.SHA256,
		Schema: o.Meta.Schema, SchemaVersion: o.Meta.Version,
		Producer: o.Meta.Producer, ProducerVersion: o.Meta.ProducerVersion,
	}
}

// ErrCorrupt is matched (errors.Is) by Load's error for a manifest that exists but cannot be
// decoded: not JSON, another format version, or an invalid key.
var ErrCorrupt = errors.New("corrupt manifest")

// Load reads the manifest of the run in st. A run without a manifest is an error matching
// fs.ErrNotExist.
func Load(ctx context.Context, st store.Store) (*Manifest, error) {
	url := st.URL(Key)
	rc, err := st.Get(ctx, Key)
	if err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", url, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", url, err)
	}
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("load manifest %s: %w: want a JSON manifest object: %w", url, ErrCorrupt, err)
	}
	if m.Version != version {
		return nil, fmt.Errorf("load manifest %s: %w: version is %d, want %d", url, ErrCorrupt, m.Version, version)
	}
	for i, e := range m.Artifacts {
		if err := store.CheckKey(e.Key); err != nil {
			return nil, fmt.Errorf("load manifest %s: %w: artifact %d: %w", url, ErrCorrupt, i, err)
		}
	}
	return &m, nil
}

// Add puts e into m, replacing the entry with the same key.
func (m *Manifest) Add(e Entry) {
	i := sort.Search(len(m.Artifacts), func(i int) bool { return m.Artifacts[i].Key >= e.Key })
	if i < len(m.Artifacts) && m.Artifacts[i].Key == e.Key {
		m.Artifacts[i] = e
		return
	}
	m.Artifacts = append(m.Artifacts, Entry{})
	copy(m.Artifacts[i+1:], m.Artifacts[i:])
	m.Artifacts[i] = e
}

// Find returns the entry with key and whether there is one.
func (m *Manifest) Find(key string) (Entry, bool) {
	i := sort.Search(len(m.Artifacts), func(i int) bool { return m.Artifacts[i].Key >= key })
	if i < len(m.Artifacts) && m.Artifacts[i].Key == key {
		return m.Artifacts[i], true
	}
	return Entry{}, false
}

// Save writes m to Key in st.
func (m *Manifest) Save(ctx context.Context, st store.Store) error {
	m.Version = version
	if m.Artifacts == nil {
		m.Artifacts = []Entry{}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("save manifest %s: %w", st.URL(Key), err)
	}
	b = append(b, '\n')
	if err := st.Put(ctx, Key, strings.NewReader(string(b))); err != nil {
		return fmt.Errorf("save manifest %s: %w", st.URL(Key), err)
	}
	return nil
}

// Record adds the artifacts to the manifest of the run in st, creating the manifest if the run has
// none yet.
func Record(ctx context.Context, st store.Store, objs ...schema.Object) error {
	m, err := Load(ctx, st)
	if errors.Is(err, fs.ErrNotExist) {
		m, err = &Manifest{}, nil
	}
	if err != nil {
		return err
	}
	for _, o := range objs {
		m.Add(EntryOf(o))
	}
	return m.Save(ctx, st)
}

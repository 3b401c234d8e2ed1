package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/abs-nas/abs/artifacts/store"
)

// Keys of the Parquet key-value metadata that carry an artifact's Meta.
const (
	keySchema          = "abs.schema"
	keyVersion         = "abs.schema_version"
	keyProducer        = "abs.producer"
	keyProducerVersion = "abs.producer_version"
	keySeed            = "abs.seed"
	keyConfig          = "abs.config"
	keyInputs          = "abs.inputs"
)

// Meta is the provenance every artifact carries in its Parquet key-value metadata: what the file is
// (schema name and version), who wrote it (producer step and its version), with which seed and
// configuration, and from which inputs.
type Meta struct {
	// Schema and Version name the artifact's schema. Write fills them in from the Kind.
	Schema  string `json:"schema"`
	Version int    `json:"version"`
	// Producer is the step that wrote the file, e.g. "score-operators". It must not be empty.
	Producer string `json:"producer"`
	// ProducerVersion is the producer's version, e.g. a module version or VCS revision.
	ProducerVersion string `json:"producer_version"`
	// Seed is the seed of all randomness that went into the file (0 where none did).
	Seed int64 `json:"seed"`
	// Config is the producer's configuration as JSON text; empty means none.
	Config string `json:"config"`
	// Inputs are the artifacts the file was computed from.
	Inputs []Input `json:"inputs"`
}

// Input names one input artifact by its key relative to the run's root (so a run verifies
// wherever it is copied to) and the hex sha256 of its bytes when it was read.
type Input struct {
	Key    string `json:"key"`
	SHA256 string `json:"sha256"`
}

// validate reports the first field of m that cannot be written.
func (m Meta) validate() error {
	if m.Producer == "" {
		return errors.New("meta: producer is empty")
	}
	if m.Config != "" && !json.Valid([]byte(m.Config)) {
		return fmt.Errorf("meta: config is not valid JSON: %.60q", m.Config)
	}
	for i, in := range m.Inputs {
		if err := store.CheckKey(in.Key); err != nil {
			return fmt.Errorf("meta: input %d: %w", i, err)
		}
		if !validSHA256(in.SHA256) {
			return fmt.Errorf("meta: input %s: sha256 %q is not 64 lower-case hex digits", in.Key, in.SHA256)
		}
	}
	return nil
}

// validSHA256 reports whether s is a sha256 digest in lower-case hex.
func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// pairs returns m as key-value metadata in a fixed order.
func (m Meta) pairs() (keys, values []string) {
	inputs := m.Inputs
	if inputs == nil {
		inputs = []Input{}
	}
	in, _ := json.Marshal(inputs) // a slice of string pairs always marshals
	keys = []string{keySchema, keyVersion, keyProducer, keyProducerVersion, keySeed, keyConfig, keyInputs}
	values = []string{m.Schema, strconv.Itoa(m.Version), m.Producer, m.ProducerVersion,
		strconv.FormatInt(m.Seed, 10), m.Config, string(in)}
	return keys, values
}

// metaFrom parses Meta from key-value metadata looked up by find. A file without abs metadata is
// an error: it was not written by abs.
func metaFrom(find func(key string) (string, bool)) (Meta, error) {
	var m Meta
	get := func(key string) (string, error) {
		v, ok := find(key)
		if !ok {
			return "", fmt.Errorf("metadata key %q is missing (not an abs artifact?)", key)
		}
		return v, nil
	}
	var err error
	if m.Schema, err = get(keySchema); err != nil {
		return m, err
	}
	v, err := get(keyVersion)
	if err != nil {
		return m, err
	}
	if m.Version, err = strconv.Atoi(v); err != nil {
		return m, fmt.Errorf("metadata key %q: want an integer, got %q", keyVersion, v)
	}
	if m.Producer, err = get(keyProducer); err != nil {
		return m, err
	}
	if m.ProducerVersion, err = get(keyProducerVersion); err != nil {
		return m, err
	}
	if v, err = get(keySeed); err != nil {
		return m, err
	}
	if m.Seed, err = strconv.ParseInt(v, 10, 64); err != nil {
		return m, fmt.Errorf("metadata key %q: want an integer, got %q", keySeed, v)
	}
	if m.Config, err = get(keyConfig); err != nil {
		return m, err
	}
	if v, err = get(keyInputs); err != nil {
		return m, err
	}
	if err := json.Unmarshal([]byte(v), &m.Inputs); err != nil {
		return m, fmt.Errorf("metadata key %q: want a JSON list of {key, sha256}: %v", keyInputs, err)
	}
	return m, nil
}

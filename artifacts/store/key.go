package store

import (
	"fmt"
	"strings"
)

// CheckKey reports whether key is a valid object key: a non-empty, slash-separated relative path
// whose segments are neither empty, "." nor "..", with no leading or trailing slash, no backslash and
// no NUL byte. Every backend applies these rules, so a key valid on one backend is valid on all.
// The error names the key and the rule it breaks.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("invalid key %q: empty", key)
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("invalid key %q: absolute (want a relative, slash-separated key)", key)
	}
	return checkSegments("key", key, false)
}

// CheckPrefix reports whether prefix is a valid List prefix: empty, or a key, or a key followed by a
// slash. Its last segment may be partial ("runs/a" matches "runs/a/x" and "runs/ab"); the same
// segment rules as CheckKey apply to every complete segment.
func CheckPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("invalid prefix %q: absolute (want a relative, slash-separated prefix)", prefix)
	}
	return checkSegments("prefix", prefix, true)
}

func checkSegments(what, s string, trailingSlash bool) error {
	if strings.ContainsRune(s, 0) {
		return fmt.Errorf("invalid %s %q: contains a NUL byte", what, s)
	}
	if strings.ContainsRune(s, '\\') {
		return fmt.Errorf("invalid %s %q: contains a backslash (separate segments with /)", what, s)
	}
	body := s
	if trailingSlash {
		body = strings.TrimSuffix(s, "/")
	} else if strings.HasSuffix(s, "/") {
		return fmt.Errorf("invalid %s %q: trailing slash", what, s)
	}
	for _, seg := range strings.Split(body, "/") {
		switch seg {
		case "":
			return fmt.Errorf("invalid %s %q: empty segment", what, s)
		case ".", "..":
			return fmt.Errorf("invalid %s %q: %q segment", what, s, seg)
		}
	}
	return nil
}

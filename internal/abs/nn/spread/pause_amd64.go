//go:build amd64 && !purego

package spread

// pause executes n (at least 1) PAUSE instructions.
//
//go:noescape
func pause(n int)

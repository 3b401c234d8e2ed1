//go:build !amd64 || purego

package spread

// pause does nothing on other architectures and with the purego tag: the poll loops spin without
// a hint.
func pause(n int) {}

//go:build !amd64

package spread

// pause does nothing on other architectures: the poll loops spin without a hint.
func pause(n int) {}

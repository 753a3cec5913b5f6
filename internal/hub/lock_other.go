//go:build !unix

package hub

// lockFile does nothing where flock is not available.
func lockFile(string) (func(), error) { return func() {}, nil }

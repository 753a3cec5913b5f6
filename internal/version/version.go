// Package version reports the version of the running mbd binary from its build information.
package version

import (
	"runtime/debug"
	"sync"
)

// String returns the module version, or "devel" plus the VCS revision (and "+dirty") for source builds.
var String = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	if v != "" && v != "(devel)" {
		return v
	}
	v = "devel"
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += "-" + rev
	}
	if dirty {
		v += "+dirty"
	}
	return v
})

// Package buildinfo says which vpt this is: the version set at build time
// (-ldflags "-X main.version=v1.2.3"), else the module version Go recorded
// (go install github.com/vpt-dev/vpt@v1.2.3), and the VCS revision the
// binary was built from. Results stores record the version that wrote
// them, `vpt version` prints it.
package buildinfo

import (
	"runtime/debug"
	"sync"
)

// Dev is the version of a build that has none.
const Dev = "dev"

var (
	mu       sync.Mutex
	override string
)

// SetVersion sets the version given at build time ("" or Dev: none).
func SetVersion(v string) {
	mu.Lock()
	defer mu.Unlock()
	if v != Dev {
		override = v
	}
}

// Info is what the binary knows of its build.
type Info struct {
	Version  string `json:"version"`            // v1.2.3, or dev
	Revision string `json:"revision,omitempty"` // the VCS commit
	Time     string `json:"time,omitempty"`     // the commit's time
	Modified bool   `json:"modified,omitempty"` // built from a tree with changes
	Go       string `json:"go"`
}

// Read returns the build's information.
func Read() Info {
	mu.Lock()
	v := override
	mu.Unlock()
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return fromBuild(bi, v)
}

// fromBuild reads what Go recorded of the build (bi may be nil), with the
// version given at build time ("" for none).
func fromBuild(bi *debug.BuildInfo, version string) Info {
	info := Info{Version: version}
	if bi == nil {
		return withDefault(info)
	}
	info.Go = bi.GoVersion
	if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return withDefault(info)
}

func withDefault(i Info) Info {
	if i.Version == "" {
		i.Version = Dev
	}
	return i
}

// Version is the version, with the short revision when the version alone
// does not tell the build (dev builds): "v1.2.3", "dev+3f2a9c1e4b7d",
// "dev+3f2a9c1e4b7d-dirty".
func Version() string { return Read().String() }

// String is the version as Version says it.
func (i Info) String() string {
	if i.Version != Dev || i.Revision == "" {
		return i.Version
	}
	v := i.Version + "+" + short(i.Revision)
	if i.Modified {
		v += "-dirty"
	}
	return v
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuild(t *testing.T) {
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "3f2a9c1e4b7d5a6b"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
		{Key: "vcs.modified", Value: "true"}}
	for _, c := range []struct {
		bi      *debug.BuildInfo
		version string
		want    string
	}{
		{nil, "", "dev"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "", "dev"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "", "dev+3f2a9c1e4b7d-dirty"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: vcs[:1]}, "", "v1.4.0"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.5.0-rc1", "v1.5.0-rc1"},
	} {
		i := fromBuild(c.bi, c.version)
		if got := i.String(); got != c.want {
			t.Errorf("%+v %q: %q, want %q", c.bi, c.version, got, c.want)
		}
	}
	if i := fromBuild(&debug.BuildInfo{GoVersion: "go1.26", Settings: vcs}, ""); i.Revision != "3f2a9c1e4b7d5a6b" || i.Time == "" || !i.Modified || i.Go != "go1.26" {
		t.Fatalf("%+v", i)
	}
}

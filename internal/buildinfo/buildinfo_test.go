package buildinfo

import (
	"runtime/debug"
	"testing"

	"github.com/prometheus/common/version"
)

func TestFill(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i+1 < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	type fields struct{ version, revision, branch, buildDate string }
	for _, tc := range []struct {
		name   string
		ldflag fields // set as -ldflags -X would
		info   *debug.BuildInfo
		want   fields
	}{
		{
			name: "no build information",
			want: fields{version: DevelVersion},
		},
		{
			name: "go test: devel, no VCS",
			info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			want: fields{version: DevelVersion},
		},
		{
			name: "go build in a dirty checkout",
			info: &debug.BuildInfo{
				Main:     debug.Module{Version: "v0.0.0-20261206213000-190bf83abcde+dirty"},
				Settings: vcs("vcs.revision", "190bf83abcdef", "vcs.time", "2026-12-06T21:30:00Z", "vcs.modified", "true"),
			},
			want: fields{version: "0.0.0-20261206213000-190bf83abcde+dirty", revision: "190bf83abcdef-modified", buildDate: "20261206-21:30:00"},
		},
		{
			name:   "release build: -ldflags win",
			ldflag: fields{version: "0.2.0", revision: "abc", branch: "main", buildDate: "20261207-10:00:00"},
			info: &debug.BuildInfo{
				Main:     debug.Module{Version: "v0.0.0-20261206213000-190bf83abcde"},
				Settings: vcs("vcs.revision", "190bf83abcdef", "vcs.time", "2026-12-06T21:30:00Z"),
			},
			want: fields{version: "0.2.0", revision: "abc", branch: "main", buildDate: "20261207-10:00:00"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			saved := fields{version.Version, version.Revision, version.Branch, version.BuildDate}
			defer func() {
				version.Version, version.Revision, version.Branch, version.BuildDate = saved.version, saved.revision, saved.branch, saved.buildDate
			}()
			version.Version, version.Revision, version.Branch, version.BuildDate = tc.ldflag.version, tc.ldflag.revision, tc.ldflag.branch, tc.ldflag.buildDate
			fill(tc.info)
			got := fields{version.Version, version.Revision, version.Branch, version.BuildDate}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestModuleVersion(t *testing.T) {
	info := &debug.BuildInfo{Deps: []*debug.Module{
		{Path: "github.com/prometheus/alertmanager", Version: "v0.34.2"},
		{Path: "github.com/prometheus/common", Version: "v0.72.1", Replace: &debug.Module{Path: "../common", Version: "v0.72.2"}},
	}}
	for path, want := range map[string]string{
		"github.com/prometheus/alertmanager": "0.34.2",
		"github.com/prometheus/common":       "0.72.2",
		"example.com/not/a/dependency":       "",
	} {
		if got := moduleVersion(info, path); got != want {
			t.Errorf("moduleVersion(%s) = %q, want %q", path, got, want)
		}
	}
	if got := moduleVersion(nil, "github.com/prometheus/alertmanager"); got != "" {
		t.Errorf("without build information: %q", got)
	}
}

// Package buildinfo completes the build information of Vigil's binaries. It lives in
// github.com/prometheus/common/version, as in every Prometheus component, so that the
// libraries that read it (the Alertmanager API's /api/v2/status, build_info collectors,
// version.Print for --version) report Vigil's build.
//
// Release builds set the fields with -ldflags (see the Makefile):
//
//	-X github.com/prometheus/common/version.Version=0.2.0
//	-X github.com/prometheus/common/version.Revision=<commit>
//	-X github.com/prometheus/common/version.Branch=<branch>
//	-X github.com/prometheus/common/version.BuildUser=<user@host>
//	-X github.com/prometheus/common/version.BuildDate=<20060102-15:04:05>
//
// Importing this package fills the fields left empty from the binary's own build
// information (runtime/debug.ReadBuildInfo): the main module's version (set by `go install
// module@version`, or derived from the VCS by `go build` in a checkout), the VCS revision
// (with "-modified" for a dirty tree) and, for want of a build date, the commit date. The
// branch and the build user are known only from -ldflags.
package buildinfo

import (
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/common/version"
)

// DevelVersion is the version of a build that knows none (go test, go run, no VCS).
const DevelVersion = "0.1.0-dev"

func init() {
	info, _ := debug.ReadBuildInfo()
	fill(info)
}

// fill sets the empty fields of common/version from info (which may be nil).
func fill(info *debug.BuildInfo) {
	settings := map[string]string{}
	mainVersion := ""
	if info != nil {
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		mainVersion = info.Main.Version
	}
	if version.Version == "" {
		version.Version = DevelVersion
		if mainVersion != "" && mainVersion != "(devel)" {
			version.Version = strings.TrimPrefix(mainVersion, "v")
		}
	}
	if version.Revision == "" {
		if rev := settings["vcs.revision"]; rev != "" {
			if settings["vcs.modified"] == "true" {
				rev += "-modified"
			}
			version.Revision = rev
		}
	}
	if version.BuildDate == "" {
		if t, err := time.Parse(time.RFC3339, settings["vcs.time"]); err == nil {
			version.BuildDate = t.UTC().Format(dateLayout)
		}
	}
}

// dateLayout is the build date format of Prometheus's releases (promu's).
const dateLayout = "20060102-15:04:05"

// ModuleVersion returns the version of a module built into the binary ("0.34.2" for
// github.com/prometheus/alertmanager at v0.34.2), or "" if it is not known.
// Test binaries carry no dependency information: there it is always "".
func ModuleVersion(path string) string {
	info, _ := debug.ReadBuildInfo()
	return moduleVersion(info, path)
}

func moduleVersion(info *debug.BuildInfo, path string) string {
	if info == nil {
		return ""
	}
	for _, d := range info.Deps {
		if d.Path == path {
			if d.Replace != nil && d.Replace.Version != "" {
				return strings.TrimPrefix(d.Replace.Version, "v")
			}
			return strings.TrimPrefix(d.Version, "v")
		}
	}
	return ""
}

package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	commonversion "github.com/prometheus/common/version"
)

// /api/v1/status/buildinfo and vigil_build_info report the build information set with
// -ldflags (common/version), every field of it.
func TestBuildInfo(t *testing.T) {
	saved := []string{commonversion.Version, commonversion.Revision, commonversion.Branch, commonversion.BuildUser, commonversion.BuildDate}
	defer func() {
		commonversion.Version, commonversion.Revision, commonversion.Branch, commonversion.BuildUser, commonversion.BuildDate = saved[0], saved[1], saved[2], saved[3], saved[4]
	}()
	commonversion.Version, commonversion.Revision, commonversion.Branch, commonversion.BuildUser, commonversion.BuildDate = "9.8.7", "0123abcd", "release-9.8", "ci@builder", "20261206-21:30:00"
	base := startServer(t)

	resp, err := http.Get(base + "/api/v1/status/buildinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Data map[string]string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"version": "9.8.7", "revision": "0123abcd", "branch": "release-9.8", "buildUser": "ci@builder", "buildDate": "20261206-21:30:00", "goVersion": commonversion.GoVersion}
	for k, v := range want {
		if body.Data[k] != v {
			t.Errorf("buildinfo %s = %q, want %q", k, body.Data[k], v)
		}
	}
	metrics := getBody(t, base+"/metrics")
	if !strings.Contains(metrics, `vigil_build_info{branch="release-9.8",goarch=`) || !strings.Contains(metrics, `revision="0123abcd"`) || !strings.Contains(metrics, `version="9.8.7"} 1`) {
		t.Errorf("vigil_build_info missing or incomplete:\n%s", grepLines(metrics, "build_info"))
	}
	if strings.Contains(metrics, "prometheus_build_info") {
		t.Error("prometheus_build_info exposed: its version label would be Vigil's")
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
